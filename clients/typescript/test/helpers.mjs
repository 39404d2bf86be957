// What the tests share: the running service (started by clients/test.sh), an account on
// it, and a real HTTP receiver on 127.0.0.1 that records every call.
import http from "node:http";
import { Postbode } from "../dist/index.js";

export function service(t) {
  const url = process.env.POSTBODE_TEST_URL;
  if (!url) {
    if (process.env.CI === "true") throw new Error("POSTBODE_TEST_URL is not set: run bash clients/test.sh");
    t.skip("no running service: run bash clients/test.sh");
    return undefined;
  }
  return { url, adminToken: process.env.POSTBODE_TEST_ADMIN_TOKEN };
}

/** A new account of its own for a test file, and clients for it and the operator. */
export async function setUp(t, name) {
  const s = service(t);
  if (!s) return undefined;
  const operator = new Postbode({ token: s.adminToken, baseUrl: s.url });
  const account = await operator.accounts.create(name);
  const client = new Postbode({ token: account.api_key, baseUrl: s.url });
  return { ...s, operator, account, client };
}

/** Polls `check` until it returns something truthy (a hang guard, not a speed test). */
export async function eventually(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Answers each POST with the next status of `statuses` (then 200) and serves `files` to GET. */
export async function startReceiver() {
  const receiver = { calls: [], statuses: [], files: new Map() };
  receiver.server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method === "GET") {
        const content = receiver.files.get(req.url);
        res.writeHead(content === undefined ? 404 : 200).end(content ?? "");
        return;
      }
      const headers = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      receiver.calls.push({ method: req.method, url: req.url, headers, body: new Uint8Array(Buffer.concat(chunks)) });
      res.writeHead(receiver.statuses.shift() ?? 200).end();
    });
  });
  await new Promise((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${receiver.server.address().port}/hooks/receive.php`;
  receiver.waitFor = (count) => eventually(`${count} calls at the receiver`, () => receiver.calls.length >= count && receiver.calls);
  receiver.close = () => new Promise((resolve) => receiver.server.close(resolve));
  return receiver;
}

export async function all(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

export function header(call, name) {
  return call.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

export function withHeader(call, name, value) {
  return { ...call, headers: [...call.headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase()), [name, value]] };
}
