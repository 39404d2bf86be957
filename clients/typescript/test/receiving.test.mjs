// Each verifier accepts the service's real calls, in every format and with the keys
// from the key set or from DNS, and refuses them once anything is changed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { HttpSignature, PublishedKeys, Rfc9421, StandardWebhooks, VerificationError, nodeResolver } from "../dist/index.js";
import { header, setUp, startReceiver, withHeader } from "./helpers.mjs";

const FORMATS = ["json", "form", "xml"];
const SCHEMES = ["http-signature", "rfc9421"];
const CONTENT_TYPES = { json: "application/json", form: "application/x-www-form-urlencoded", xml: "application/xml" };
const vectors = JSON.parse(readFileSync(new URL("../../testdata/signature-vectors.json", import.meta.url), "utf8"));

let ctx;
let receiver;
const calls = new Map();
const hooks = new Map();
let keySetKeys;
let dnsKeys;

before(async (t) => {
  ctx = await setUp(t, "typescript receiving tests");
  if (!ctx) return;
  receiver = await startReceiver();
  for (const format of FORMATS) {
    for (const scheme of SCHEMES) {
      const url = `${receiver.url}?format=${format}&scheme=${scheme}`;
      hooks.set(`${format} ${scheme}`, await ctx.client.webhooks.create({ url, events: ["order.signed"], format, signatures: ["standard-webhooks", scheme] }));
    }
  }
  await ctx.client.events.send({ type: "order.signed", data: { order: 42, paid: true, tags: ["a", "b"] } });
  for (const call of await receiver.waitFor(hooks.size)) {
    const query = new URLSearchParams(call.url.split("?")[1]);
    calls.set(`${query.get("format")} ${query.get("scheme")}`, call);
  }
  keySetKeys = PublishedKeys.fromUrl(`${ctx.url}/.well-known/postbode/keys`);
  dnsKeys = PublishedKeys.fromDns(nodeResolver([process.env.POSTBODE_TEST_DNS]));
});
after(() => receiver?.close());

function verifier(scheme, keys, account = ctx.account.id) {
  const options = { keys, account, keyDomain: process.env.POSTBODE_TEST_KEY_DOMAIN };
  // The receiver is reached at http://127.0.0.1: the scheme Postbode called is signed.
  return scheme === "http-signature" ? new HttpSignature(options) : new Rfc9421({ ...options, scheme: "http" });
}

async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof VerificationError, String(error));
    return error.code;
  }
  assert.fail("the call was accepted");
}

for (const format of FORMATS) {
  for (const scheme of SCHEMES) {
    test(`a real ${format} call verifies with ${scheme}, keys from the key set and from DNS, and standard-webhooks`, async (t) => {
      if (!ctx) return t.skip();
      const call = calls.get(`${format} ${scheme}`);
      assert.ok(header(call, "Content-Type").startsWith(CONTENT_TYPES[format]));
      assert.equal((await verifier(scheme, keySetKeys).verify(call)).covered.length >= 5, true);
      await verifier(scheme, dnsKeys).verify(call);
      await new StandardWebhooks(hooks.get(`${format} ${scheme}`).secret).verify(call);
    });
  }
}

for (const scheme of SCHEMES) {
  test(`${scheme} refuses a changed body, a changed header, an old call, a wrong key and another account`, async (t) => {
    if (!ctx) return t.skip();
    const call = calls.get(`json ${scheme}`);
    const changed = JSON.parse(new TextDecoder().decode(call.body));
    changed.data.order = 43;
    assert.equal(await refusal(verifier(scheme, keySetKeys).verify({ ...call, body: JSON.stringify(changed) })), "digest_mismatch");
    assert.equal(await refusal(verifier(scheme, keySetKeys).verify(withHeader(call, "Content-Type", "text/plain"))), "bad_signature");
    const later = Math.floor(Date.now() / 1000) + 120;
    assert.equal(await refusal(verifier(scheme, keySetKeys).verify(call, later)), "stale");
    const algorithm = scheme === "http-signature" ? "rsa-sha256" : "ed25519";
    const otherId = vectors.key_set.keys.find((k) => k.algorithm === algorithm).key_id;
    const other = PublishedKeys.fromKeySet(vectors.key_set);
    const wrongKey = new PublishedKeys(() => other.find(otherId));
    assert.equal(await refusal(verifier(scheme, wrongKey).verify(call)), "bad_signature");
    assert.equal(await refusal(verifier(scheme, keySetKeys, "acc_someone_else").verify(call)), "wrong_account");
  });
}

test("a replayed call is refused", async (t) => {
  if (!ctx) return t.skip();
  const call = calls.get("form http-signature");
  const receiverSide = verifier("http-signature", keySetKeys);
  await receiverSide.verify(call);
  assert.equal(await refusal(receiverSide.verify(call)), "replayed_nonce");
});

test("standard-webhooks refuses a changed body, id, an old timestamp and another secret", async (t) => {
  if (!ctx) return t.skip();
  const call = calls.get("xml rfc9421");
  const hook = new StandardWebhooks(hooks.get("xml rfc9421").secret);
  assert.equal(await refusal(hook.verify({ ...call, body: new TextDecoder().decode(call.body) + " " })), "bad_signature");
  assert.equal(await refusal(hook.verify(withHeader(call, "webhook-id", "dlv_other"))), "bad_signature");
  const sentAt = Number(header(call, "webhook-timestamp"));
  assert.equal(await refusal(hook.verify(call, sentAt + 301)), "stale");
  assert.equal(await refusal(new StandardWebhooks(hooks.get("json rfc9421").secret).verify(call)), "bad_signature");
});

test("a Fetch API Request verifies as it is", async (t) => {
  if (!ctx) return t.skip();
  const call = calls.get("json rfc9421");
  const request = new Request(`http://127.0.0.1${call.url}`, { method: "POST", headers: call.headers, body: call.body });
  const verified = await verifier("rfc9421", keySetKeys).verifyRequest(request);
  assert.equal(verified.algorithm, "ed25519");
  await new StandardWebhooks(hooks.get("json rfc9421").secret).verifyRequest(request);
});
