/** What the client throws: a problem document from the API as a typed error. */

/** Every error of this package. */
export class PostbodeError extends Error {
  override name = "PostbodeError";
}

/** The service could not be reached (after the retries allowed). */
export class ConnectionError extends PostbodeError {
  override name = "ConnectionError";
}

/** One bad field: its full path (`events[1].type`, `rate_limit.per_second`) and why. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * An RFC 9457 problem document the API answered with: `status`, `type`
 * (`/problems/validation`), `title`, `detail`, `errors` (each bad field, on 400 and 422)
 * and `retryAfter` (seconds, when the answer had one).
 */
export class ApiError extends PostbodeError {
  override name = "ApiError";
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[];
  readonly retryAfter: number | undefined;
  readonly problem: Record<string, unknown>;

  constructor(status: number, problem: Record<string, unknown>, retryAfter?: number) {
    const title = String(problem.title ?? "");
    const detail = String(problem.detail ?? "");
    super(`${status} ${title}: ${detail || String(problem.type ?? "")}`);
    this.status = status;
    this.type = String(problem.type ?? "about:blank");
    this.title = title;
    this.detail = detail;
    const errors = Array.isArray(problem.errors) ? (problem.errors as Record<string, unknown>[]) : [];
    this.errors = errors.map((e) => ({ field: String(e.field ?? ""), message: String(e.message ?? "") }));
    this.retryAfter = retryAfter;
    this.problem = problem;
  }

  /** The bad fields by path: `{"events[1].type": "required"}`. */
  get fieldErrors(): Record<string, string> {
    return Object.fromEntries(this.errors.map((e) => [e.field, e.message]));
  }
}
