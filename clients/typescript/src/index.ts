/**
 * Postbode's client library: send events and manage webhooks (`Postbode`), and verify
 * Postbode's calls on the receiving side (`StandardWebhooks`, `HttpSignature`, `Rfc9421`).
 */
export { Postbode } from "./client.js";
export type { AttemptFilter, DeliveryFilter, SendOptions } from "./client.js";
export { ApiError, ConnectionError, PostbodeError, type FieldError } from "./errors.js";
export { OPERATIONS, type OperationId } from "./operations.js";
export type { ClientOptions } from "./transport.js";
export type * from "./types.js";
export type { components, operations, paths } from "./schema.js";
export * from "./signatures/index.js";
export { VERSION } from "./version.js";
