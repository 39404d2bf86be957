/** What every scheme shares: the call as received, and why a call is refused. */

/** Why a call was refused, in the words every Postbode verifier uses. */
export type RefusalCode =
  | "missing_header"
  | "malformed"
  | "not_covered"
  | "untrusted_key_domain"
  | "stale"
  | "wrong_account"
  | "digest_mismatch"
  | "unknown_key"
  | "bad_signature"
  | "replayed_nonce";

/** A call that must be refused (answer it `401`); `code` says why. */
export class VerificationError extends Error {
  override name = "VerificationError";
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
  }
}

/** What a successful check established: the key that signed and what it covered. */
export interface Verified {
  keyId: string;
  algorithm: "rsa-sha256" | "ed25519";
  covered: string[];
}

/**
 * Headers as a framework hands them over: a Fetch API `Headers`, Node's
 * `IncomingHttpHeaders` (`req.headers`), a plain object, or `[name, value]` pairs.
 */
export type HeadersInput =
  | Headers
  | Record<string, string | string[] | undefined>
  | Iterable<readonly [string, string]>;

/** The raw body, exactly as received (before any JSON or form parsing). */
export type BodyInput = Uint8Array | ArrayBuffer | string;

/** A call as received. */
export interface ReceivedCall {
  /** As on the request line, e.g. `POST`. */
  method: string;
  /** The path and query as requested (`/hooks/in?a=1`: Node's `req.url`, Express's
   * `req.originalUrl`), or the full URL (`request.url` of the Fetch API). */
  url: string;
  headers: HeadersInput;
  body: BodyInput;
}

export class Received {
  readonly method: string;
  readonly target: string;
  readonly body: Uint8Array;
  private readonly pairs: [string, string][];

  constructor(call: ReceivedCall) {
    this.method = call.method;
    this.target = originForm(call.url);
    this.pairs = headerPairs(call.headers);
    this.body = bytes(call.body);
  }

  /** Every field of that name, trimmed, joined by `, ` in order; `undefined` when absent. */
  header(name: string): string | undefined {
    const wanted = name.trim().toLowerCase();
    const values = this.pairs.filter(([n]) => n.trim().toLowerCase() === wanted).map(([, v]) => v.trim());
    return values.length > 0 ? values.join(", ") : undefined;
  }

  required(name: string): string {
    const value = this.header(name);
    if (value === undefined) throw new VerificationError("missing_header", `the ${name.toLowerCase()} header is missing`);
    return value;
  }
}

function headerPairs(headers: HeadersInput): [string, string][] {
  const pairs: [string, string][] = [];
  const entries: Iterable<readonly [string, unknown]> =
    Symbol.iterator in headers
      ? (headers as Iterable<readonly [string, string]>)
      : Object.entries(headers as Record<string, unknown>);
  for (const [name, value] of entries) {
    if (Array.isArray(value)) for (const v of value) pairs.push([name, String(v)]);
    else if (value !== undefined) pairs.push([name, String(value)]);
  }
  return pairs;
}

/** `/path?query` of a request target given as it is or as an absolute URL. */
function originForm(target: string): string {
  const at = target.indexOf("://");
  if (at < 0) return target;
  const slash = target.indexOf("/", at + 3);
  return slash < 0 ? "/" : target.slice(slash);
}

export function bytes(body: BodyInput): Uint8Array {
  if (typeof body === "string") return new TextEncoder().encode(body);
  return body instanceof Uint8Array ? body : new Uint8Array(body);
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function base64Decode(text: string, what: string): Uint8Array {
  const trimmed = text.trim();
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(trimmed)) {
    throw new VerificationError("malformed", `${what} is not base64`);
  }
  const binary = atob(trimmed);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** WebCrypto: the global one (browsers, Node 19+, Deno, Bun, workers), else Node 18's. */
export async function subtle(): Promise<SubtleCrypto> {
  if (globalThis.crypto?.subtle) return globalThis.crypto.subtle;
  const nodeCrypto = (await import("node:crypto")) as unknown as { webcrypto: { subtle: SubtleCrypto } };
  return nodeCrypto.webcrypto.subtle;
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await (await subtle()).digest("SHA-256", data as BufferSource));
}

/** Compares in constant time, so a forger learns nothing from timing. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

export function nowOr(now: number | undefined): number {
  return now ?? Math.floor(Date.now() / 1000);
}

export function checkAge(sent: number, now: number, maxAge: number, futureSkew: number): void {
  const age = now - sent;
  if (age > maxAge) throw new VerificationError("stale", `the call is ${age} s old, more than allowed`);
  if (-age > futureSkew) throw new VerificationError("stale", `the call is dated ${-age} s in the future`);
}

/** Whether `keyId` is `<selector>._domainkey.<trustedDomain>` exactly. */
export function isUnderDomain(keyId: string, trustedDomain: string): boolean {
  const lower = keyId.toLowerCase();
  const at = lower.indexOf("._domainkey.");
  if (at <= 0) return false;
  const domain = lower.slice(at + "._domainkey.".length).replace(/\.$/, "");
  return domain !== "" && domain === trustedDomain.toLowerCase().replace(/\.$/, "");
}
