/**
 * One HTTP exchange with the API, retried where that is safe: the only place that sends
 * requests, builds URLs, reads problem documents and waits between attempts.
 */
import { ApiError, ConnectionError } from "./errors.js";
import { OPERATIONS, type OperationId } from "./operations.js";
import { VERSION } from "./version.js";

/** Answers worth another try: the service asks for patience or a proxy lost it. */
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
/** Methods whose repetition has the effect of one request. */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE"]);

export interface ClientOptions {
  /** An account's API key (`pb_...`), or the operator token for accounts and signing keys. */
  token: string;
  /** Default `http://127.0.0.1:8080`. */
  baseUrl?: string;
  /** Per attempt; default 30 s. */
  timeoutMs?: number;
  /** How often a call that is safe to repeat is tried again; default 2. */
  maxRetries?: number;
  /** A `Retry-After` longer than this is not waited for; default 60 s. */
  maxRetryWaitMs?: number;
  /** Another `fetch` (a proxy agent, a test double of the network); default the global one. */
  fetch?: typeof fetch;
}

export type QueryValue = string | number | boolean | Date | null | undefined;

export interface CallOptions {
  path?: Record<string, string>;
  query?: Record<string, QueryValue>;
  json?: unknown;
  body?: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
  /** The request carries an idempotency key: safe to repeat whatever its method. */
  idempotent?: boolean;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export function queryValue(value: Exclude<QueryValue, null | undefined>): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/** `Retry-After` in milliseconds from now: a number of seconds or an HTTP date. */
export function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const when = Date.parse(trimmed);
  return Number.isNaN(when) ? undefined : Math.max(0, when - Date.now());
}

export class Transport {
  private readonly baseUrl: string;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly maxRetryWaitMs: number;
  private readonly fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = (options.baseUrl ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRetries = options.maxRetries ?? 2;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? 60_000;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /**
   * Sends `operation`. It is tried again on 429, 502, 503, 504 and lost connections when
   * repeating it is safe: its method is idempotent, or `idempotent` says the request
   * carries an idempotency key.
   */
  async call(operation: OperationId, options: CallOptions = {}): Promise<Answer> {
    const [method, template] = OPERATIONS[operation];
    let url = this.baseUrl + template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = options.path?.[name];
      if (value === undefined) throw new TypeError(`${operation}: no value for {${name}}`);
      return encodeURIComponent(value);
    });
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null) query.append(name, queryValue(value));
    }
    if ([...query.keys()].length > 0) url += "?" + query.toString();
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.token}`,
      Accept: "application/json",
      ...(typeof window === "undefined" ? { "User-Agent": `postbode-typescript/${VERSION}` } : {}),
    };
    let body = options.body;
    let contentType = options.contentType;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      contentType = "application/json";
    }
    if (contentType) headers["Content-Type"] = contentType;
    Object.assign(headers, options.headers ?? {});
    const retry = options.idempotent === true || IDEMPOTENT_METHODS.has(method);

    for (let attempt = 0; ; attempt++) {
      let answer: Answer;
      try {
        const response = await this.fetch(url, {
          method,
          headers,
          body: body as BodyInit | undefined,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        answer = { status: response.status, headers: response.headers, text: await response.text() };
      } catch (failure) {
        if (retry && attempt < this.maxRetries) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw new ConnectionError(`${method} ${url}: ${String(failure)}`, { cause: failure });
      }
      if (answer.status >= 200 && answer.status < 300) return answer;
      const wait = retryAfterMs(answer.headers.get("Retry-After"));
      if (retry && RETRY_STATUSES.has(answer.status) && attempt < this.maxRetries) {
        const delay = wait ?? backoffMs(attempt);
        if (delay <= this.maxRetryWaitMs) {
          await sleep(delay);
          continue;
        }
      }
      throw problem(answer, wait);
    }
  }

  /** The answer's JSON (`undefined` for an empty answer). */
  async json<T>(operation: OperationId, options: CallOptions = {}): Promise<T> {
    const answer = await this.call(operation, options);
    return (answer.text ? JSON.parse(answer.text) : undefined) as T;
  }
}

function problem(answer: Answer, retryAfter: number | undefined): ApiError {
  let document: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(answer.text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    document = parsed as Record<string, unknown>;
  } catch {
    document = { title: `HTTP ${answer.status}`, detail: answer.text.slice(0, 500) };
  }
  return new ApiError(answer.status, document, retryAfter === undefined ? undefined : retryAfter / 1000);
}

/** Exponential with full jitter, so many clients do not come back in step. */
function backoffMs(attempt: number): number {
  return (0.5 + Math.random() * 0.5) * Math.min(8000, 500 * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
