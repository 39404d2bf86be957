// Every operation of the client round-trips against the real service.
import assert from "node:assert/strict";
import { before, after, test } from "node:test";
import { ApiError, OPERATIONS, Postbode } from "../dist/index.js";
import { all, eventually, setUp, startReceiver } from "./helpers.mjs";

let ctx;
let receiver;
before(async (t) => {
  ctx = await setUp(t, "typescript client tests");
  receiver = await startReceiver();
});
after(() => receiver?.close());

async function refused(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiError, String(error));
    return error;
  }
  assert.fail("the call was not refused");
}

test("every operation the client calls is in the served document", async (t) => {
  if (!ctx) return t.skip();
  const document = await (await fetch(`${ctx.url}/openapi.json`)).json();
  const served = {};
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item)) served[op.operationId] = [method.toUpperCase(), path];
  }
  for (const [id, operation] of Object.entries(OPERATIONS)) assert.deepEqual(served[id], [...operation], id);
});

test("events: one with an idempotency key, a batch, and get with its deliveries", async (t) => {
  if (!ctx) return t.skip();
  const { client } = ctx;
  receiver.calls.length = 0;
  const hook = await client.webhooks.create({ url: receiver.url, events: ["order.paid"] });
  const accepted = await client.events.send({ type: "order.paid", data: { order: 42 } }, { idempotencyKey: "order-42" });
  assert.equal(accepted.deliveries, 1);
  const again = await client.events.send({ type: "order.paid", data: { order: 42 } }, { idempotencyKey: "order-42" });
  assert.equal(again.id, accepted.id);
  const conflict = await refused(client.events.send({ type: "order.paid", data: { order: 43 } }, { idempotencyKey: "order-42" }));
  assert.equal(conflict.status, 409);
  const batch = await client.events.sendBatch([1, 2].map((order) => ({ type: "order.paid", data: { order } })));
  assert.equal(batch.ids.length, 2);
  const calls = await receiver.waitFor(3);
  assert.deepEqual(calls.map((c) => JSON.parse(new TextDecoder().decode(c.body)).data.order).sort(), [1, 2, 42]);
  const event = await eventually("the delivery", async () => {
    const e = await client.events.get(accepted.id);
    return e.deliveries[0].status === "delivered" && e;
  });
  assert.deepEqual(event.body.data, { order: 42 });
  assert.equal((await client.deliveries.get(event.deliveries[0].id)).webhook_id, hook.id);
  await client.webhooks.delete(hook.id);
});

test("a bad batch names the field by its full path", async (t) => {
  if (!ctx) return t.skip();
  const error = await refused(ctx.client.events.sendBatch([{ type: "order.paid" }, { data: {} }]));
  assert.equal(error.status, 422);
  assert.ok("events[1].type" in error.fieldErrors, JSON.stringify(error.errors));
});

test("webhooks: create, list every page, get, update, delete", async (t) => {
  if (!ctx) return t.skip();
  const { client } = ctx;
  const created = [];
  for (const n of [0, 1, 2]) created.push(await client.webhooks.create({ url: `${receiver.url}?n=${n}`, description: "page test" }));
  assert.match(created[0].secret, /^whsec_/);
  const listed = (await all(client.webhooks.list({ limit: 1 }))).filter((w) => w.description === "page test");
  assert.deepEqual(listed.map((w) => w.id), created.map((w) => w.id));
  assert.equal((await client.webhooks.get(created[0].id)).secret, undefined);
  const updated = await client.webhooks.update(created[0].id, { description: "changed", max_concurrency: 4 });
  assert.deepEqual([updated.description, updated.max_concurrency, updated.url], ["changed", 4, created[0].url]);
  for (const hook of created) await client.webhooks.delete(hook.id);
  assert.equal((await refused(client.webhooks.get(created[0].id))).status, 404);
});

test("webhooks: verify, test, secrets, check, attempts, export and stats", async (t) => {
  if (!ctx) return t.skip();
  const { client } = ctx;
  receiver.calls.length = 0;
  const hook = await client.webhooks.create({ url: receiver.url, events: ["all"] });
  receiver.files.set(`/hooks/${hook.verification.file_name}`, await client.webhooks.verificationFile(hook.id));
  assert.equal((await client.webhooks.verify(hook.id)).status, "verified");
  const report = await client.webhooks.test(hook.id, { type: "order.paid", data: { order: 7 } });
  assert.equal(report.status_code, 200);
  const [call] = await receiver.waitFor(1);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(call.body)).data, { order: 7 });
  const rotated = await client.webhooks.rotateSecret(hook.id);
  const shown = await client.webhooks.secret(hook.id);
  assert.deepEqual([shown.secret, shown.previous_secret], [rotated.secret, hook.secret]);
  const checked = (await client.webhooks.checkAll()).data;
  assert.ok(checked.some((line) => line.webhook_id === hook.id && line.ok));
  const attempts = await all(client.webhooks.attempts(hook.id));
  assert.equal(attempts[0].trigger, "test");
  assert.match(await client.webhooks.exportAttempts(hook.id, "csv"), /^id,/);
  assert.ok((await client.webhooks.exportAttempts(hook.id, "jsonl")).trim());
  const stats = await client.webhooks.stats(hook.id, { bucket: "hour" });
  assert.deepEqual([stats.webhook_id, stats.bucket], [hook.id, "hour"]);
  await client.webhooks.delete(hook.id);
});

test("a webhook made later gets the events it missed by a replay job", async (t) => {
  if (!ctx) return t.skip();
  const { client } = ctx;
  const since = new Date(Date.now() - 60_000);
  const event = await client.events.send({ type: "order.replayed.ts", data: { order: 7 } });
  const hook = await client.webhooks.create({ url: receiver.url, events: ["order.replayed.ts"] });
  const started = await client.webhooks.replay(hook.id, since, { status: ["missing"] });
  assert.ok(started.matched >= 1);
  const job = await eventually("the replay job to end", async () => {
    const j = await client.webhooks.job(started.job_id);
    return j.status !== "running" && j;
  });
  assert.deepEqual([job.status, job.created, job.webhook_id], ["done", started.matched, hook.id]);
  await eventually("the replayed delivery", async () =>
    (await all(client.webhooks.deliveries(hook.id))).find((d) => d.event_id === event.id),
  );
  await client.webhooks.delete(hook.id);
});

test("a failed delivery is resent and recovered", async (t) => {
  if (!ctx) return t.skip();
  const { client } = ctx;
  receiver.calls.length = 0;
  receiver.statuses.push(500, 500);
  const hook = await client.webhooks.create({ url: receiver.url, events: ["order.failed"] });
  const since = new Date(Date.now() - 60_000);
  const event = await client.events.send({ type: "order.failed", data: { order: 1 } });
  await receiver.waitFor(1);
  const delivery = await eventually("the first attempt to fail", async () =>
    (await all(client.webhooks.deliveries(hook.id))).find((d) => d.attempts === 1),
  );
  assert.deepEqual([delivery.event_id, delivery.last_status_code], [event.id, 500]);
  assert.equal((await client.deliveries.resend(delivery.id)).id, delivery.id);
  await receiver.waitFor(2);
  await eventually("the resent attempt", async () => (await client.deliveries.get(delivery.id)).attempts === 2);
  assert.equal((await client.webhooks.recover(hook.id, since)).deliveries, 1);
  await receiver.waitFor(3);
  await eventually("the recovered delivery", async () => (await client.deliveries.get(delivery.id)).status === "delivered");
  const delivered = await all(client.webhooks.deliveries(hook.id, { status: "delivered" }));
  assert.deepEqual(delivered.map((d) => d.id), [delivery.id]);
  await client.webhooks.delete(hook.id);
});

test("databases, collections, profiles, subprofiles, import and erasure", async (t) => {
  if (!ctx) return t.skip();
  const { client } = ctx;
  const database = await client.databases.create({
    name: "customers",
    fields: [{ name: "email", type: "email" }, { name: "age", type: "integer" }],
  });
  assert.ok((await all(client.databases.list())).some((d) => d.id === database.id));
  assert.equal((await client.databases.update(database.id, { name: "clients" })).name, "clients");
  assert.equal((await client.databases.get(database.id)).name, "clients");
  const collection = await client.collections.create(database.id, { name: "orders", fields: [{ name: "total", type: "float" }] });
  assert.deepEqual((await all(client.collections.list(database.id))).map((c) => c.id), [collection.id]);
  assert.equal((await client.collections.update(collection.id, { name: "purchases" })).name, "purchases");
  assert.equal((await client.collections.get(collection.id)).name, "purchases");

  const profile = await client.profiles.create(database.id, { fields: { email: "piet@example.com", age: 31 }, interests: ["news"] });
  assert.equal(profile.sequence, 1);
  const found = await all(client.profiles.list(database.id, { where: { email: "piet@example.com" } }));
  assert.deepEqual(found.map((p) => p.id), [profile.id]);
  assert.equal((await client.profiles.update(profile.id, { fields: { age: 32 } })).fields.age, 32);
  assert.equal((await client.profiles.replace(profile.id, { fields: { email: "piet@example.com" } })).fields.age, null);
  assert.equal((await client.profiles.get(profile.id)).sequence, 3);
  const sub = await client.subprofiles.create(profile.id, collection.id, { total: 9.5 });
  assert.deepEqual((await all(client.subprofiles.list(profile.id))).map((s) => s.id), [sub.id]);
  assert.equal((await client.subprofiles.update(sub.id, { total: 10 })).fields.total, 10);
  assert.equal((await client.subprofiles.replace(sub.id, {})).fields.total, null);
  assert.equal((await client.subprofiles.get(sub.id)).collection_id, collection.id);
  await client.subprofiles.delete(sub.id);

  const summary = await client.databases.importProfiles(database.id, "email,age\nkees@example.com,40\nbad,x\n", { key: "email" });
  assert.deepEqual([summary.created, summary.rejected_count], [1, 1]);
  const [kees] = await all(client.profiles.list(database.id, { where: { email: "kees@example.com" } }));
  await client.profiles.delete(kees.id);
  assert.equal((await refused(client.profiles.get(kees.id))).status, 404);
  const erased = await client.profiles.erase(profile.id);
  assert.equal(erased.profile_id, profile.id);
  assert.ok(erased.erased.events >= 3);
  await client.collections.delete(collection.id);
  await client.databases.delete(database.id);
  assert.equal((await refused(client.databases.get(database.id))).status, 404);
});

test("messages, links and every report", async (t) => {
  if (!ctx) return t.skip();
  const { client } = ctx;
  receiver.calls.length = 0;
  const hook = await client.webhooks.create({ url: receiver.url, events: ["delivery", "bounce", "failure", "abuse", "unsubscribe"] });
  const message = await client.messages.create({ mailing: { id: "spring-2026", tags: ["spring"] }, email: "piet@example.com" });
  assert.match(message.open_url, /^http/);
  assert.match((await client.messages.link(message.id, "https://shop.example.com/sale")).click_url, /\/t\/c\//);
  const reports = [
    await client.messages.reportDelivery(message.id, { code: 250, extended: "2.0.0" }),
    await client.messages.reportBounce(message.id, { envelope: "bounces@example.com" }),
    await client.messages.reportFailure(message.id, { state: "rcpt", code: 550, extended: "5.1.1", description: "User unknown" }),
    await client.messages.reportAbuse(message.id, { emailfrom: "piet@example.com" }),
    await client.messages.reportUnsubscribe(message.id),
  ];
  assert.ok(reports.every((r) => r.deliveries === 1));
  const types = (await receiver.waitFor(5)).map((c) => JSON.parse(new TextDecoder().decode(c.body)).type).sort();
  assert.deepEqual(types, ["abuse", "bounce", "delivery", "failure", "unsubscribe"]);
  await client.webhooks.delete(hook.id);
});

test("domains", async (t) => {
  if (!ctx) return t.skip();
  const { client } = ctx;
  const domain = await client.domains.create("shop.typescript.example.com");
  assert.equal(domain.record.type, "TXT");
  assert.deepEqual((await all(client.domains.list())).map((d) => d.id), [domain.id]);
  assert.equal((await client.domains.get(domain.id)).domain, domain.domain);
  assert.equal((await client.domains.validate(domain.id)).status, "pending");
  await client.domains.delete(domain.id);
  assert.equal((await refused(client.domains.get(domain.id))).status, 404);
});

test("accounts and keys with the operator token", async (t) => {
  if (!ctx) return t.skip();
  const { operator, account, url } = ctx;
  assert.ok((await all(operator.accounts.list({ limit: 1 }))).some((a) => a.id === account.id));
  const key = await operator.accounts.createKey(account.id);
  const second = new Postbode({ token: key.api_key, baseUrl: url });
  assert.equal((await second.accounts.current()).id, account.id);
  await operator.accounts.deleteKey(account.id, key.id);
  assert.equal((await refused(second.accounts.current())).status, 401);
});

test("a scoped key sends events and nothing else", async (t) => {
  if (!ctx) return t.skip();
  const { operator, account, url } = ctx;
  const key = await operator.accounts.createKey(account.id, { name: "shop", scopes: ["events:write"] });
  assert.deepEqual([key.name, key.scopes], ["shop", ["events:write"]]);
  const sender = new Postbode({ token: key.api_key, baseUrl: url });
  await sender.events.send({ type: "order.paid", data: { total: 1 } });
  const error = await refused(all(sender.webhooks.list()));
  assert.equal(error.status, 403);
  assert.match(error.message, /webhooks:read/);
  const listed = (await operator.accounts.listKeys(account.id)).find((k) => k.id === key.id);
  assert.deepEqual([listed.name, listed.scopes], ["shop", ["events:write"]]);
  await operator.accounts.deleteKey(account.id, key.id);
});

test("signing keys", async (t) => {
  if (!ctx) return t.skip();
  const { operator, client } = ctx;
  const listed = await operator.signingKeys.list();
  const keySet = await client.signingKeys.keySet();
  assert.deepEqual(new Set(listed.data.map((k) => k.key_id)), new Set(keySet.keys.map((k) => k.key_id)));
  assert.deepEqual(new Set(keySet.keys.map((k) => k.algorithm)), new Set(["rsa-sha256", "ed25519"]));
  // A rotation publishes a next key per algorithm (once: while one waits, it is the one).
  const rotated = await operator.signingKeys.rotate();
  assert.deepEqual(new Set(rotated.data.filter((k) => k.state === "next").map((k) => k.algorithm)), new Set(listed.data.map((k) => k.algorithm)));
  const kept = new Set(rotated.data.map((k) => k.key_id));
  assert.ok(listed.data.filter((k) => k.state === "active").every((k) => kept.has(k.key_id)));
});

test("a problem document names each bad field", async (t) => {
  if (!ctx) return t.skip();
  const error = await refused(
    ctx.client.webhooks.create({ url: "http://127.0.0.1:9/hooks", max_concurrency: "many", rate_limit: { per_second: "fast" } }),
  );
  assert.equal(error.type, "/problems/validation");
  assert.ok("max_concurrency" in error.fieldErrors && "rate_limit.per_second" in error.fieldErrors, JSON.stringify(error.errors));
});

test("a wrong token is unauthorized", async (t) => {
  if (!ctx) return t.skip();
  const error = await refused(new Postbode({ token: "pb_wrong", baseUrl: ctx.url }).accounts.current());
  assert.equal(error.status, 401);
});
