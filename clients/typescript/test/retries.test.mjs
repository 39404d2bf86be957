// Retries against the real service behind a proxy that answers the first calls itself
// with 429, 502 or 503 and Retry-After: a fault the service only shows when its disk is
// full, so the proxy stands in for the network between.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { ApiError, Postbode } from "../dist/index.js";
import { setUp } from "./helpers.mjs";

let ctx;
const proxy = { failures: [], seen: [] };

before(async (t) => {
  ctx = await setUp(t, "typescript retry tests");
  if (!ctx) return;
  proxy.server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      proxy.seen.push({ at: performance.now(), method: req.method, url: req.url });
      const failure = proxy.failures.shift();
      if (failure) {
        const [status, retryAfter] = failure;
        res.writeHead(status, { "Content-Type": "application/problem+json", "Retry-After": retryAfter });
        res.end(JSON.stringify({ type: "/problems/unavailable", title: "Unavailable", status, detail: "try later" }));
        return;
      }
      const headers = { ...req.headers };
      delete headers.host;
      delete headers.connection;
      const answer = await fetch(ctx.url + req.url, {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(answer.status, { "Content-Type": answer.headers.get("content-type") ?? "application/json" });
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  await new Promise((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${proxy.server.address().port}`;
});
after(() => proxy.server && new Promise((resolve) => proxy.server.close(resolve)));

function flaky(options = {}) {
  proxy.seen.length = 0;
  return new Postbode({ token: ctx.account.api_key, baseUrl: proxy.url, ...options });
}

async function refused(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiError, String(error));
    return error;
  }
  assert.fail("the call was not refused");
}

test("a GET is retried after the Retry-After it was given", async (t) => {
  if (!ctx) return t.skip();
  const client = flaky();
  proxy.failures = [[503, "1"]];
  assert.equal((await client.accounts.current()).id, ctx.account.id);
  assert.equal(proxy.seen.length, 2);
  assert.ok(proxy.seen[1].at - proxy.seen[0].at >= 1000, "the retry waited the Retry-After of 1 s");
});

test("an event with an idempotency key is retried and sent once", async (t) => {
  if (!ctx) return t.skip();
  const client = flaky();
  proxy.failures = [[429, "0"], [502, "0"]];
  const accepted = await client.events.send({ type: "order.retried", data: { n: 1 } }, { idempotencyKey: "retry-once" });
  assert.equal(proxy.seen.length, 3);
  assert.equal((await ctx.client.events.get(accepted.id)).type, "order.retried");
});

test("a create without an idempotency key is not retried", async (t) => {
  if (!ctx) return t.skip();
  const client = flaky();
  proxy.failures = [[503, "0"]];
  const error = await refused(client.events.send({ type: "order.not-retried" }));
  assert.deepEqual([error.status, error.retryAfter, proxy.seen.length], [503, 0, 1]);
});

test("a Retry-After longer than allowed is not waited for", async (t) => {
  if (!ctx) return t.skip();
  const client = flaky({ maxRetryWaitMs: 5000 });
  proxy.failures = [[429, "3600"]];
  const error = await refused(client.accounts.current());
  assert.deepEqual([error.status, error.retryAfter, proxy.seen.length], [429, 3600, 1]);
});

test("retries stop after maxRetries", async (t) => {
  if (!ctx) return t.skip();
  const client = flaky({ maxRetries: 2 });
  proxy.failures = [[503, "0"], [503, "0"], [503, "0"]];
  assert.equal((await refused(client.accounts.current())).status, 503);
  assert.equal(proxy.seen.length, 3);
});
