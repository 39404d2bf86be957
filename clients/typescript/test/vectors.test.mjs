// The shared signature vectors (clients/testdata/signature-vectors.json): this library
// reaches the same outcome as Postbode's Rust crate on every case.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { HttpSignature, PublishedKeys, Rfc9421, StandardWebhooks, VerificationError } from "../dist/index.js";

const vectors = JSON.parse(readFileSync(new URL("../../testdata/signature-vectors.json", import.meta.url), "utf8"));

function keysFor(c) {
  if (c.keys === "dns") {
    return PublishedKeys.fromDns(async (name) => (vectors.dns[name] ? [vectors.dns[name].join("")] : []));
  }
  return PublishedKeys.fromKeySet(vectors.key_set);
}

function verifierFor(c) {
  const policy = { ...vectors.policy, ...(c.policy ?? {}) };
  const common = { account: policy.account, keyDomain: policy.key_domain, accountHeader: policy.account_header, maxAgeSeconds: policy.max_age };
  if (c.scheme === "standard-webhooks") {
    const hook = new StandardWebhooks(c.secrets);
    return (r, now) => hook.verify(r, now);
  }
  const verifier =
    c.scheme === "http-signature"
      ? new HttpSignature({ keys: keysFor(c), ...common })
      : new Rfc9421({ keys: keysFor(c), scheme: policy.scheme, ...common });
  return (r, now) => verifier.verify(r, now);
}

test("the vectors cover every scheme", () => {
  assert.ok(vectors.cases.length >= 40);
  assert.deepEqual(new Set(vectors.cases.map((c) => c.scheme)), new Set(["standard-webhooks", "http-signature", "rfc9421"]));
});

for (const c of vectors.cases) {
  test(c.name, async () => {
    const verify = verifierFor(c);
    const request = { method: c.request.method, url: c.request.target, headers: c.request.headers, body: c.request.body };
    const outcomes = [];
    for (const _ of c.expect) {
      try {
        await verify(request, c.now);
        outcomes.push("ok");
      } catch (refused) {
        if (!(refused instanceof VerificationError)) throw refused;
        outcomes.push(refused.code);
      }
    }
    assert.deepEqual(outcomes, c.expect);
  });
}
