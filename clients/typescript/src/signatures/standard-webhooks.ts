/** `standard-webhooks`: HMAC-SHA256 with the webhook's secret (the Standard Webhooks specification). */
import { Received, VerificationError, base64Decode, nowOr, subtle, utf8, type BodyInput, type HeadersInput } from "./common.js";

const SECRET_PREFIX = "whsec_";

function secretKey(secret: string): Uint8Array {
  if (!secret.startsWith(SECRET_PREFIX)) throw new TypeError("a Postbode secret starts with whsec_");
  let key: Uint8Array;
  try {
    key = base64Decode(secret.slice(SECRET_PREFIX.length), "the secret");
  } catch {
    throw new TypeError("the secret is not whsec_ followed by base64");
  }
  if (key.length === 0) throw new TypeError("the secret is empty");
  return key;
}

/**
 * Checks `webhook-id`, `webhook-timestamp` and `webhook-signature`. `secret` is the
 * webhook's `whsec_...` secret; during a rotation pass both, the new and the previous
 * one. `toleranceSeconds` is how far the timestamp may be from this machine's clock.
 */
export class StandardWebhooks {
  private readonly keys: Uint8Array[];
  private readonly tolerance: number;

  constructor(secret: string | string[], options: { toleranceSeconds?: number } = {}) {
    const secrets = typeof secret === "string" ? [secret] : secret;
    if (secrets.length === 0) throw new TypeError("give at least one secret");
    this.keys = secrets.map(secretKey);
    this.tolerance = options.toleranceSeconds ?? 300;
  }

  /** Resolves when the call is genuine; rejects with a `VerificationError` otherwise. */
  async verify(call: { headers: HeadersInput; body: BodyInput }, now?: number): Promise<void> {
    const request = new Received({ method: "POST", url: "/", ...call });
    const id = request.required("webhook-id");
    const timestamp = request.required("webhook-timestamp");
    const signatures = request.required("webhook-signature");
    if (!/^-?\d+$/.test(timestamp)) {
      throw new VerificationError("malformed", "the webhook-timestamp header is not Unix seconds");
    }
    const skew = nowOr(now) - Number(timestamp);
    if (Math.abs(skew) > this.tolerance) throw new VerificationError("stale", `the call is ${skew} s away from now`);
    const prefix = utf8(`${id}.${timestamp}.`);
    const signed = new Uint8Array(prefix.length + request.body.length);
    signed.set(prefix);
    signed.set(request.body, prefix.length);
    const crypto = await subtle();
    for (const raw of this.keys) {
      const key = await crypto.importKey("raw", raw as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
      for (const candidate of signatures.split(/\s+/)) {
        const comma = candidate.indexOf(",");
        if (comma < 0 || candidate.slice(0, comma) !== "v1") continue;
        let given: Uint8Array;
        try {
          given = base64Decode(candidate.slice(comma + 1), "a signature");
        } catch {
          continue;
        }
        // WebCrypto compares the HMAC in constant time.
        if (await crypto.verify("HMAC", key, given as BufferSource, signed)) return;
      }
    }
    throw new VerificationError("bad_signature", "the signature does not verify");
  }

  /** `verify` for a Fetch API `Request` (its body is read from a clone). */
  async verifyRequest(request: Request, now?: number): Promise<void> {
    const body = new Uint8Array(await request.clone().arrayBuffer());
    return this.verify({ headers: request.headers, body }, now);
  }
}
