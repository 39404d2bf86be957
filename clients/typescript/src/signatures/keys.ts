/**
 * Postbode's public signing keys: where a verifier finds the key a call names. Postbode
 * publishes every key twice (docs/payloads.md, "How the keys are published"): as a
 * DKIM-style TXT record at the key id, and in the key set at
 * `GET /.well-known/postbode/keys`. `PublishedKeys` reads either and caches what it found.
 */
import { VerificationError, base64Decode, subtle } from "./common.js";

export type KeyAlgorithm = "rsa-sha256" | "ed25519";

/** One public key, ready to verify. */
export class PublicKey {
  private constructor(
    readonly algorithm: KeyAlgorithm,
    private readonly key: CryptoKey,
  ) {}

  /** From the DER SubjectPublicKeyInfo (the key set's `public_key`, a DKIM `k=rsa` record's `p=`). */
  static async fromSpki(algorithm: KeyAlgorithm, der: Uint8Array): Promise<PublicKey> {
    return PublicKey.import(algorithm, "spki", der);
  }

  /** From the raw 32 bytes of an Ed25519 key (a DKIM `k=ed25519` record's `p=`, RFC 8463). */
  static async fromRawEd25519(raw: Uint8Array): Promise<PublicKey> {
    return PublicKey.import("ed25519", "raw", raw);
  }

  private static async import(algorithm: KeyAlgorithm, format: "spki" | "raw", data: Uint8Array): Promise<PublicKey> {
    const params = algorithm === "rsa-sha256" ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } : { name: "Ed25519" };
    try {
      return new PublicKey(algorithm, await (await subtle()).importKey(format, data as BufferSource, params, false, ["verify"]));
    } catch {
      throw new VerificationError("malformed", `the published key is not an ${algorithm} key`);
    }
  }

  async verify(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const name = this.algorithm === "rsa-sha256" ? "RSASSA-PKCS1-v1_5" : "Ed25519";
    return (await subtle()).verify(name, this.key, signature as BufferSource, message as BufferSource);
  }
}

/** The key set's JSON (`GET /.well-known/postbode/keys`). */
export interface KeySetDocument {
  keys: { key_id: string; algorithm: string; public_key: string; state?: string; expires_at?: number | null }[];
}

/** The keys of a key set by lower-case key id; keys of unknown algorithms are skipped. */
export async function parseKeySet(keySet: KeySetDocument | string): Promise<Map<string, PublicKey>> {
  const document: KeySetDocument = typeof keySet === "string" ? JSON.parse(keySet) : keySet;
  const keys = new Map<string, PublicKey>();
  for (const entry of document.keys ?? []) {
    if (entry.algorithm !== "rsa-sha256" && entry.algorithm !== "ed25519") continue;
    const der = base64Decode(entry.public_key, `the key ${entry.key_id}`);
    keys.set(entry.key_id.toLowerCase(), await PublicKey.fromSpki(entry.algorithm, der));
  }
  return keys;
}

/** The key of a DKIM key record (`v=DKIM1;k=rsa;p=...`); `undefined` when revoked (empty `p=`). */
export async function parseDkimRecord(text: string): Promise<PublicKey | undefined> {
  const tags = new Map<string, string>();
  for (const part of text.split(";")) {
    const tag = part.trim();
    if (!tag) continue;
    const at = tag.indexOf("=");
    if (at < 0) throw new VerificationError("malformed", "DKIM record: a tag without =");
    const name = tag.slice(0, at).trim();
    if (tags.has(name)) throw new VerificationError("malformed", `DKIM record: duplicate tag ${name}`);
    tags.set(name, tag.slice(at + 1).trim());
  }
  if ((tags.get("v") ?? "DKIM1") !== "DKIM1") throw new VerificationError("malformed", "DKIM record: v= is not DKIM1");
  const encoded = tags.get("p");
  if (encoded === undefined) throw new VerificationError("malformed", "DKIM record: no p= tag");
  const compact = encoded.replace(/\s+/g, "");
  if (!compact) return undefined;
  const raw = base64Decode(compact, "DKIM record: p=");
  const kind = tags.get("k") ?? "rsa";
  if (kind === "rsa") return PublicKey.fromSpki("rsa-sha256", raw);
  if (kind === "ed25519") return PublicKey.fromRawEd25519(raw);
  throw new VerificationError("malformed", `DKIM record: unknown key type k=${kind}`);
}

/** Looks up the TXT records at a name: one string per record, its strings joined. */
export type ResolveTxt = (name: string) => Promise<string[]>;

/**
 * A TXT look-up with Node's resolver (`node:dns`): the system's servers, or `servers`
 * (`["192.0.2.53", "127.0.0.1:5353"]`). Browsers and workers have no DNS: use the key set.
 */
export function nodeResolver(servers?: string[]): ResolveTxt {
  let resolver: Promise<{ resolveTxt(name: string): Promise<string[][]> }> | undefined;
  return async (name) => {
    resolver ??= import("node:dns/promises").then(({ Resolver }) => {
      const r = new Resolver();
      if (servers) r.setServers(servers);
      return r;
    });
    try {
      return (await (await resolver).resolveTxt(name)).map((strings) => strings.join(""));
    } catch (failure) {
      const code = (failure as { code?: string }).code;
      if (code === "ENOTFOUND" || code === "ENODATA") return [];
      throw failure;
    }
  };
}

export interface UrlOptions {
  /** How long the fetched set is used; default 3600 s (what the service's Cache-Control says). */
  cacheSeconds?: number;
  /** A key id the set lacks fetches it again, at most this often; default 10 s. */
  refreshSeconds?: number;
  fetch?: typeof fetch;
}

/**
 * Finds a key by its id, from a key set or from DNS, and caches it:
 *
 * - `PublishedKeys.fromKeySet(json)`: a key set you already hold (fixed);
 * - `PublishedKeys.fromUrl("https://<postbode>/.well-known/postbode/keys")`: fetched when
 *   first needed, again after `cacheSeconds`, and early when a call names a key it does
 *   not hold (at most every `refreshSeconds`, so forged key ids cannot make it hammer
 *   the server);
 * - `PublishedKeys.fromDns(resolveTxt?)`: the TXT record at the key id, each cached.
 */
export class PublishedKeys {
  constructor(private readonly lookup: (keyId: string) => Promise<PublicKey | undefined>) {}

  find(keyId: string): Promise<PublicKey | undefined> {
    return this.lookup(keyId);
  }

  static fromKeySet(keySet: KeySetDocument | string): PublishedKeys {
    const keys = parseKeySet(keySet);
    return new PublishedKeys(async (keyId) => (await keys).get(keyId.toLowerCase()));
  }

  static fromUrl(url: string, options: UrlOptions = {}): PublishedKeys {
    const cacheMs = (options.cacheSeconds ?? 3600) * 1000;
    const refreshMs = (options.refreshSeconds ?? 10) * 1000;
    const get = options.fetch ?? globalThis.fetch.bind(globalThis);
    let keys = new Map<string, PublicKey>();
    let fetchedAt: number | undefined;
    let inFlight: Promise<void> | undefined;
    const refresh = async () => {
      const response = await get(url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`fetching the key set ${url}: HTTP ${response.status}`);
      keys = await parseKeySet((await response.json()) as KeySetDocument);
      fetchedAt = Date.now();
    };
    return new PublishedKeys(async (keyId) => {
      const since = fetchedAt === undefined ? Infinity : Date.now() - fetchedAt;
      if (since >= cacheMs || (!keys.has(keyId.toLowerCase()) && since >= refreshMs)) {
        inFlight ??= refresh().finally(() => (inFlight = undefined));
        await inFlight;
      }
      return keys.get(keyId.toLowerCase());
    });
  }

  /** `resolveTxt` defaults to `nodeResolver()`, the system's resolvers. */
  static fromDns(resolveTxt: ResolveTxt = nodeResolver(), options: { cacheSeconds?: number; missingSeconds?: number } = {}): PublishedKeys {
    const cache = new Map<string, { until: number; key: PublicKey | undefined }>();
    return new PublishedKeys(async (keyId) => {
      const name = keyId.toLowerCase().replace(/\.$/, "");
      const hit = cache.get(name);
      if (hit && Date.now() < hit.until) return hit.key;
      let key: PublicKey | undefined;
      for (const text of await resolveTxt(name)) {
        if (text.startsWith("v=DKIM1") || text.includes("p=")) {
          key = await parseDkimRecord(text);
          break;
        }
      }
      if (cache.size > 10_000) cache.clear();
      const seconds = key ? (options.cacheSeconds ?? 3600) : (options.missingSeconds ?? 10);
      cache.set(name, { until: Date.now() + seconds * 1000, key });
      return key;
    });
  }
}
