/** `http-signature`: the suite's draft-cavage HTTP Signature with `rsa-sha256`, keys published like DKIM keys. */
import {
  Received,
  VerificationError,
  base64Decode,
  checkAge,
  isUnderDomain,
  nowOr,
  sameBytes,
  sha256,
  utf8,
  type ReceivedCall,
  type Verified,
} from "./common.js";
import type { PublishedKeys } from "./keys.js";
import { NonceCache, type NonceStore } from "./nonces.js";

const RSA = "rsa-sha256";
const MIN_NONCE_LEN = 16;

function bad(why: string): VerificationError {
  return new VerificationError("malformed", why);
}

/** The parameters of a `Signature` header, names in lower case; a repeated parameter
 * refuses the header. An `Authorization: Signature ...` value is accepted too. */
export function parseSignatureHeader(value: string): Map<string, string> {
  if (value.length > 8192) throw bad("signature header: too long");
  let text = value.trim();
  if (text.slice(0, 10).toLowerCase() === "signature ") text = text.slice(10).trimStart();
  const params = new Map<string, string>();
  const token = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
  const bareValue = /[!#$%&'*+\-.^_`|~0-9A-Za-z/=]+/y;
  let pos = 0;
  const skip = (chars: string) => {
    while (pos < text.length && chars.includes(text.charAt(pos))) pos++;
  };
  for (;;) {
    skip(" \t,");
    if (pos >= text.length) return params;
    token.lastIndex = pos;
    const name = token.exec(text)?.[0]?.toLowerCase();
    if (name === undefined) throw bad("signature header: expected a parameter name");
    pos += name.length;
    skip(" \t");
    if (text.charAt(pos) !== "=") throw bad(`signature header: ${name} has no value`);
    pos++;
    skip(" \t");
    let param = "";
    if (text.charAt(pos) === '"') {
      pos++;
      for (;;) {
        if (pos >= text.length) throw bad("signature header: unterminated quoted string");
        let char = text.charAt(pos);
        if (char === '"') {
          pos++;
          break;
        }
        if (char === "\\") {
          if (pos + 1 >= text.length) throw bad("signature header: unterminated quoted string");
          char = text.charAt(++pos);
        }
        const code = char.charCodeAt(0);
        if ((code < 32 && char !== "\t") || code === 127) throw bad("signature header: control character");
        param += char;
        pos++;
      }
    } else {
      bareValue.lastIndex = pos;
      const found = bareValue.exec(text)?.[0];
      if (found === undefined) throw bad(`signature header: ${name} has no value`);
      param = found;
      pos += found.length;
    }
    if (params.has(name)) throw bad(`signature header: ${name} appears twice`);
    params.set(name, param);
    skip(" \t");
    if (pos < text.length && text.charAt(pos) !== ",") throw bad("signature header: expected a comma");
  }
}

/** The `sha-256` entry of a `Digest` value (the algorithm in any case) matches the body. */
export async function checkDigest(value: string, body: Uint8Array): Promise<void> {
  let found: string | undefined;
  for (const entry of value.split(",")) {
    const trimmed = entry.trim();
    const at = trimmed.indexOf("=");
    if (at < 0) throw bad("digest: an entry without =");
    if (trimmed.slice(0, at).trim().toLowerCase() === "sha-256") {
      if (found !== undefined) throw bad("digest: two sha-256 entries");
      found = trimmed.slice(at + 1);
    }
  }
  if (found === undefined) throw bad("digest: no sha-256 entry");
  if (!sameBytes(await sha256(body), base64Decode(found, "digest"))) {
    throw new VerificationError("digest_mismatch", "the body does not match its digest");
  }
}

function signingString(request: Received, covered: string[], params: Map<string, string>): string {
  return covered
    .map((name) => {
      let value: string;
      if (name === "(request-target)") value = `${request.method.toLowerCase()} ${request.target}`;
      else if (name === "(keyid)") value = params.get("keyid") ?? "";
      else if (name === "(algorithm)") value = params.get("algorithm") ?? RSA;
      else if (name === "(created)" || name === "(expires)") {
        const number = params.get(name.slice(1, -1));
        if (number === undefined) throw bad(`signature: ${name} is covered but has no parameter`);
        value = number;
      } else if (name.startsWith("(")) throw bad(`signature: unsupported pseudo-header ${name}`);
      else value = request.required(name);
      return `${name}: ${value}`;
    })
    .join("\n");
}

export interface HttpSignatureOptions {
  /** Where the keys are: `PublishedKeys.fromUrl(...)` or `PublishedKeys.fromDns(...)`. */
  keys: PublishedKeys;
  /** Your account id (`acc_...`, `GET /v1/account`), with the operator's account prefix if one is set. */
  account: string;
  /** The key domain you trust: only keys `<selector>._domainkey.<keyDomain>`. */
  keyDomain: string;
  /** Default `X-Postbode-Account`. */
  accountHeader?: string;
  /** How old `Date` may be; default 60 s. */
  maxAgeSeconds?: number;
  /** How far ahead `Date` may be; default 10 s. */
  futureSkewSeconds?: number;
  /** Where accepted nonces are remembered; default one `NonceCache` per verifier. */
  nonces?: NonceStore;
}

/**
 * Checks a call signed with `http-signature`. Keep one instance for the life of the
 * process: it remembers the nonces of accepted calls and refuses a replay.
 */
export class HttpSignature {
  private readonly options: Required<HttpSignatureOptions>;
  private readonly required: string[];

  constructor(options: HttpSignatureOptions) {
    this.options = {
      accountHeader: "X-Postbode-Account",
      maxAgeSeconds: 60,
      futureSkewSeconds: 10,
      nonces: new NonceCache(),
      ...options,
    };
    const account = this.options.accountHeader.toLowerCase();
    this.required = ["(request-target)", "host", "date", account, "digest", "x-nonce"];
  }

  /** Resolves with what was verified; rejects with a `VerificationError`. */
  async verify(call: ReceivedCall, now?: number): Promise<Verified> {
    const o = this.options;
    const request = new Received(call);
    const at = nowOr(now);
    const params = parseSignatureHeader(request.required("signature"));
    const keyId = params.get("keyid");
    if (keyId === undefined) throw bad("signature header: no keyId");
    const encoded = params.get("signature");
    if (encoded === undefined) throw bad("signature header: no signature");
    const signature = base64Decode(encoded, "signature header: signature");
    const headers = params.get("headers");
    const covered = headers === undefined ? ["date"] : headers.toLowerCase().split(/\s+/).filter(Boolean);
    if (covered.length === 0) throw bad("signature header: headers is empty");
    const algorithm = params.get("algorithm");
    if (algorithm !== undefined && algorithm.toLowerCase() !== RSA) {
      throw bad(`signature header: algorithm ${algorithm} is not ${RSA}`);
    }
    for (const name of this.required) {
      if (!covered.includes(name)) throw new VerificationError("not_covered", `the signature does not cover ${name}`);
    }
    if (!isUnderDomain(keyId, o.keyDomain)) {
      throw new VerificationError("untrusted_key_domain", `the key ${keyId} is not under the trusted key domain`);
    }
    const sent = Date.parse(request.required("date"));
    if (Number.isNaN(sent)) throw bad("date: not an HTTP date");
    checkAge(Math.floor(sent / 1000), at, o.maxAgeSeconds, o.futureSkewSeconds);
    if (request.required(o.accountHeader) !== o.account) {
      throw new VerificationError("wrong_account", "the account header names another account");
    }
    await checkDigest(request.required("digest"), request.body);
    const nonce = request.required("x-nonce");
    if (nonce.length < MIN_NONCE_LEN) throw bad(`x-nonce: shorter than ${MIN_NONCE_LEN} characters`);

    const key = await o.keys.find(keyId);
    if (key === undefined) throw new VerificationError("unknown_key", `no published key has the id ${keyId}`);
    if (key.algorithm !== RSA) throw new VerificationError("bad_signature", "the key is not an RSA key");
    if (!(await key.verify(utf8(signingString(request, covered, params)), signature))) {
      throw new VerificationError("bad_signature", "the signature does not verify");
    }
    // Only now: forged calls must not fill the cache.
    if (!(await o.nonces.checkAndInsert(nonce, at, o.maxAgeSeconds + o.futureSkewSeconds + 1))) {
      throw new VerificationError("replayed_nonce", "the nonce was already seen: the call is replayed");
    }
    return { keyId, algorithm: RSA, covered };
  }

  /** `verify` for a Fetch API `Request` (its body is read from a clone). */
  async verifyRequest(request: Request, now?: number): Promise<Verified> {
    const body = new Uint8Array(await request.clone().arrayBuffer());
    return this.verify({ method: request.method, url: request.url, headers: request.headers, body }, now);
  }
}
