/**
 * Remembers the nonces of accepted calls for as long as a call stays acceptable, in
 * memory, bounded twice: entries older than the window go, and past `maxEntries` the
 * oldest go first. Several processes behind one URL need a shared store instead:
 * anything with this `checkAndInsert` (over Redis `SET NX EX`, say) can be passed.
 */
export interface NonceStore {
  /** Records `nonce`; `false` when it was seen within the window. */
  checkAndInsert(nonce: string, now: number, windowSeconds: number): boolean | Promise<boolean>;
}

export class NonceCache implements NonceStore {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  checkAndInsert(nonce: string, now: number, windowSeconds: number): boolean {
    // A Map iterates in insertion order: the oldest come first.
    for (const [old, at] of this.seen) {
      if (at > now - windowSeconds) break;
      this.seen.delete(old);
    }
    if (this.seen.has(nonce)) return false;
    while (this.seen.size >= this.maxEntries) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    this.seen.set(nonce, now);
    return true;
  }
}
