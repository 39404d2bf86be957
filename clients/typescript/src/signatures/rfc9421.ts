/** `rfc9421`: HTTP Message Signatures (RFC 9421) with Ed25519. */
import {
  Received,
  VerificationError,
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
import { parseDictionary, serializeInnerList, type InnerList } from "./sfv.js";

const LABEL = "sig1";
const ED25519 = "ed25519";
const PARAM_TYPES: Record<string, "int" | "string"> = {
  created: "int",
  expires: "int",
  keyid: "string",
  alg: "string",
  nonce: "string",
  tag: "string",
};

function bad(why: string): VerificationError {
  return new VerificationError("malformed", why);
}

interface Input {
  label: string;
  components: string[];
  params: Map<string, string | number>;
  serialized: string;
}

function input(label: string, list: InnerList): Input {
  const components: string[] = [];
  for (const item of list.items) {
    const name = item.value;
    if (typeof name !== "string") throw bad("signature-input: a component is not a string");
    if (item.params.length > 0) throw bad("signature-input: component parameters are not supported");
    if (!name || name !== name.toLowerCase()) throw bad("signature-input: a component name is empty or not lower case");
    if (components.includes(name)) throw bad(`signature-input: ${name} is covered twice`);
    components.push(name);
  }
  const params = new Map<string, string | number>();
  for (const [name, value] of list.params) {
    const kind = PARAM_TYPES[name];
    if (kind === undefined) continue;
    const valid =
      kind === "int"
        ? typeof value === "number"
        : typeof value === "string";
    if (!valid) throw bad(`signature-input: ${name} has the wrong type`);
    params.set(name, value as string | number);
  }
  return { label, components, params, serialized: serializeInnerList(list) };
}

async function checkContentDigest(value: string, body: Uint8Array): Promise<void> {
  for (const [name, member] of parseDictionary(value)) {
    if (name !== "sha-256") continue;
    if (member.kind !== "item" || !(member.value instanceof Uint8Array)) {
      throw bad("content-digest: sha-256 is not a byte sequence");
    }
    if (!sameBytes(await sha256(body), member.value)) {
      throw new VerificationError("digest_mismatch", "the body does not match its digest");
    }
    return;
  }
  throw bad("content-digest: no sha-256 member");
}

export interface Rfc9421Options {
  keys: PublishedKeys;
  account: string;
  keyDomain: string;
  accountHeader?: string;
  /** The scheme Postbode called (the webhook URL's; `https` also behind a proxy that
   * terminates TLS), part of the signed `@target-uri`. Default `https`. */
  scheme?: "https" | "http";
  maxAgeSeconds?: number;
  futureSkewSeconds?: number;
}

/** Checks a call signed with `rfc9421` (Ed25519). */
export class Rfc9421 {
  private readonly options: Required<Rfc9421Options>;
  private readonly required: string[];

  constructor(options: Rfc9421Options) {
    this.options = { accountHeader: "X-Postbode-Account", scheme: "https", maxAgeSeconds: 60, futureSkewSeconds: 10, ...options };
    this.required = ["@method", "@target-uri", "content-digest", "content-type", this.options.accountHeader.toLowerCase()];
  }

  async verify(call: ReceivedCall, now?: number): Promise<Verified> {
    const o = this.options;
    const request = new Received(call);
    const at = nowOr(now);
    const inputs: Input[] = parseDictionary(request.required("signature-input")).map(([label, member]) => {
      if (member.kind !== "list") throw bad(`signature-input: ${label} is not an inner list`);
      return input(label, member);
    });
    const signatures = new Map<string, Uint8Array>();
    for (const [label, member] of parseDictionary(request.required("signature"))) {
      if (member.kind !== "item" || !(member.value instanceof Uint8Array)) {
        throw bad(`signature: ${label} is not a byte sequence`);
      }
      signatures.set(label, member.value);
    }
    const chosen = inputs.length === 1 ? inputs[0] : inputs.find((i) => i.label === LABEL);
    if (chosen === undefined) throw bad(`signature-input: no ${LABEL} member`);
    const signature = signatures.get(chosen.label);
    if (signature === undefined) throw bad(`signature: no ${chosen.label} member`);
    const algorithm = chosen.params.get("alg");
    if (algorithm !== undefined && algorithm !== ED25519) throw bad(`signature-input: alg ${algorithm} is not ${ED25519}`);
    const keyId = chosen.params.get("keyid") as string | undefined;
    if (keyId === undefined) throw bad("signature-input: no keyid");
    const created = chosen.params.get("created") as number | undefined;
    if (created === undefined) throw bad("signature-input: no created");
    for (const name of this.required) {
      if (!chosen.components.includes(name)) throw new VerificationError("not_covered", `the signature does not cover ${name}`);
    }
    if (!isUnderDomain(keyId, o.keyDomain)) {
      throw new VerificationError("untrusted_key_domain", `the key ${keyId} is not under the trusted key domain`);
    }
    checkAge(created, at, o.maxAgeSeconds, o.futureSkewSeconds);
    const expires = chosen.params.get("expires") as number | undefined;
    if (expires !== undefined && expires <= at) throw new VerificationError("stale", "the signature expired");
    if (request.required(o.accountHeader) !== o.account) {
      throw new VerificationError("wrong_account", "the account header names another account");
    }
    await checkContentDigest(request.required("content-digest"), request.body);

    const key = await o.keys.find(keyId);
    if (key === undefined) throw new VerificationError("unknown_key", `no published key has the id ${keyId}`);
    if (key.algorithm !== ED25519) throw new VerificationError("bad_signature", "the key is not an Ed25519 key");
    if (!(await key.verify(utf8(this.signatureBase(request, chosen)), signature))) {
      throw new VerificationError("bad_signature", "the signature does not verify");
    }
    return { keyId, algorithm: ED25519, covered: chosen.components };
  }

  /** `verify` for a Fetch API `Request` (its body is read from a clone). */
  async verifyRequest(request: Request, now?: number): Promise<Verified> {
    const body = new Uint8Array(await request.clone().arrayBuffer());
    return this.verify({ method: request.method, url: request.url, headers: request.headers, body }, now);
  }

  private signatureBase(request: Received, chosen: Input): string {
    const scheme = this.options.scheme.toLowerCase();
    const query = request.target.indexOf("?");
    const path = query < 0 ? request.target : request.target.slice(0, query);
    const lines = chosen.components.map((name) => {
      let value: string;
      if (name === "@method") value = request.method;
      else if (name === "@target-uri") value = `${scheme}://${request.required("host")}${request.target}`;
      else if (name === "@authority") value = request.required("host").toLowerCase();
      else if (name === "@scheme") value = scheme;
      else if (name === "@request-target") value = request.target;
      else if (name === "@path") value = path;
      else if (name === "@query") value = "?" + (query < 0 ? "" : request.target.slice(query + 1));
      else if (name.startsWith("@")) throw bad(`signature-input: unsupported component ${name}`);
      else value = request.required(name);
      if (/[\r\n]/.test(value)) throw bad(`${name}: a line break in the value`);
      return `"${name}": ${value}`;
    });
    lines.push(`"@signature-params": ${chosen.serialized}`);
    return lines.join("\n");
  }
}
