/**
 * The API client: one `Postbode`, its resources as properties
 * (`client.webhooks.create(...)`). Every method names an operation of the OpenAPI
 * document and leaves the HTTP to the transport.
 */
import type { OperationId } from "./operations.js";
import { Transport, queryValue, type CallOptions, type ClientOptions, type QueryValue } from "./transport.js";
import type * as T from "./types.js";

type Query = Record<string, QueryValue>;
type Time = Date | string;

abstract class Resource {
  constructor(protected readonly transport: Transport) {}

  protected json<R>(operation: OperationId, options?: CallOptions): Promise<R> {
    return this.transport.json<R>(operation, options);
  }

  /** Every item of a list, page after page (`limit` sets the page size). */
  protected async *pages<R>(operation: OperationId, path?: Record<string, string>, query: Query = {}): AsyncGenerator<R> {
    const q: Query = { ...query };
    for (;;) {
      const page = await this.transport.json<T.Page<R>>(operation, { path, query: q });
      yield* page.data;
      if (!page.next_cursor) return;
      q.cursor = page.next_cursor;
    }
  }

  protected async none(operation: OperationId, options?: CallOptions): Promise<void> {
    await this.transport.call(operation, options);
  }
}

export interface SendOptions {
  /** Sent as `Idempotency-Key`: a repeat within 24 h answers the first event again, which
   * also makes the call safe to retry. */
  idempotencyKey?: string;
}

export class Events extends Resource {
  /** Sends one event (`202`: committed). */
  send(event: T.EventRequest, options: SendOptions = {}): Promise<T.Accepted> {
    const key = options.idempotencyKey;
    return this.json("createEvent", {
      json: event,
      headers: key ? { "Idempotency-Key": key } : undefined,
      idempotent: Boolean(key ?? event.idempotency_key),
    });
  }

  /** Sends up to 1000 events, all or nothing; retried only when each carries an `idempotency_key`. */
  sendBatch(events: T.EventRequest[]): Promise<T.BatchAccepted> {
    return this.json("createEventBatch", { json: { events }, idempotent: events.every((e) => Boolean(e.idempotency_key)) });
  }

  /** The event, its canonical body and its deliveries. */
  get(eventId: string): Promise<T.Event> {
    return this.json("getEvent", { path: { id: eventId } });
  }
}

export class Deliveries extends Resource {
  get(deliveryId: string): Promise<T.Delivery> {
    return this.json("getDelivery", { path: { id: deliveryId } });
  }

  /** One more attempt now, with the same delivery id. */
  resend(deliveryId: string): Promise<T.Delivery> {
    return this.json("resendDelivery", { path: { id: deliveryId } });
  }
}

export interface DeliveryFilter {
  status?: T.DeliveryStatus;
  event_type?: string;
  since?: Time;
  until?: Time;
  limit?: number;
}

export interface AttemptFilter {
  status?: "succeeded" | "failed";
  since?: Time;
  until?: Time;
  limit?: number;
}

export class Webhooks extends Resource {
  /** Creates a webhook; the answer holds its `secret`, shown once. */
  create(settings: T.WebhookSettings): Promise<T.Webhook> {
    return this.json("createWebhook", { json: settings });
  }

  /** Every webhook of the account, oldest first, fetched page by page. */
  list(filter: { database_id?: string; collection_id?: string; limit?: number } = {}): AsyncGenerator<T.Webhook> {
    return this.pages("listWebhooks", undefined, filter);
  }

  get(webhookId: string): Promise<T.Webhook> {
    return this.json("getWebhook", { path: { id: webhookId } });
  }

  /** Merges `settings` into the webhook's; the result is checked as a whole. */
  update(webhookId: string, settings: T.WebhookPatch): Promise<T.Webhook> {
    return this.json("updateWebhook", { path: { id: webhookId }, json: settings });
  }

  delete(webhookId: string): Promise<void> {
    return this.none("deleteWebhook", { path: { id: webhookId } });
  }

  secret(webhookId: string): Promise<T.WebhookSecret> {
    return this.json("getWebhookSecret", { path: { id: webhookId } });
  }

  /** A new secret; the previous one keeps signing beside it for a day. */
  rotateSecret(webhookId: string): Promise<T.RotatedSecret> {
    return this.json("rotateWebhookSecret", { path: { id: webhookId } });
  }

  /** The ownership file's content, to place next to the callback script. */
  async verificationFile(webhookId: string): Promise<string> {
    return (await this.transport.call("getVerificationFile", { path: { id: webhookId } })).text;
  }

  /** Fetches the ownership file now. */
  verify(webhookId: string): Promise<T.VerifyResult> {
    return this.json("verifyWebhook", { path: { id: webhookId } });
  }

  /** One real, signed call now: `data` rendered like an event, or `body` sent as typed. */
  test(webhookId: string, request: T.TestRequest = {}): Promise<T.TestReport> {
    return this.json("testWebhook", { path: { id: webhookId }, json: request });
  }

  /** A test call to every verified webhook and a new ownership check of the others. */
  checkAll(): Promise<T.CheckResult> {
    return this.json("checkWebhooks");
  }

  /** Sends again every failed (or backing-off) delivery created in `[since, until]`. */
  recover(webhookId: string, since: Time, until?: Time): Promise<T.Recovered> {
    const body = { since: queryValue(since), ...(until === undefined ? {} : { until: queryValue(until) }) };
    return this.json("recoverWebhook", { path: { id: webhookId }, json: body });
  }

  /**
   * A replay job: the deliveries of `[since, until]` with a listed `status` sent again,
   * and (`"missing"`, or no `status`) the events of the range the webhook never had.
   * Follow it with `job`.
   */
  replay(
    webhookId: string,
    since: Time,
    options: { until?: Time; status?: string[]; eventTypes?: string[] } = {},
  ): Promise<T.ReplayStarted> {
    const body = {
      since: queryValue(since),
      ...(options.until === undefined ? {} : { until: queryValue(options.until) }),
      ...(options.status === undefined ? {} : { status: options.status }),
      ...(options.eventTypes === undefined ? {} : { event_types: options.eventTypes }),
    };
    return this.json("replayWebhook", { path: { id: webhookId }, json: body });
  }

  /** A replay job's progress: `status`, `done` of `total`. */
  job(jobId: string): Promise<T.Job> {
    return this.json("getReplayJob", { path: { id: jobId } });
  }

  /** The webhook's deliveries, newest first. */
  deliveries(webhookId: string, filter: DeliveryFilter = {}): AsyncGenerator<T.Delivery> {
    return this.pages("listWebhookDeliveries", { id: webhookId }, { ...filter });
  }

  /** The attempt log, newest first. */
  attempts(webhookId: string, filter: AttemptFilter = {}): AsyncGenerator<T.Attempt> {
    return this.pages("listAttempts", { id: webhookId }, { ...filter });
  }

  /** The whole (filtered) attempt log as `csv` or `jsonl` text. */
  async exportAttempts(webhookId: string, format: "csv" | "jsonl" = "csv", filter: AttemptFilter = {}): Promise<string> {
    const answer = await this.transport.call("listAttempts", { path: { id: webhookId }, query: { ...filter, format } });
    return answer.text;
  }

  /** Delivered, failed, skipped and latency per `hour` or `day` (default: the last 24 h). */
  stats(webhookId: string, range: { since?: Time; until?: Time; bucket?: "hour" | "day" } = {}): Promise<T.Stats> {
    return this.json("getWebhookStats", { path: { id: webhookId }, query: { ...range } });
  }
}

export class Databases extends Resource {
  create(definition: T.Definition): Promise<T.Database> {
    return this.json("createDatabase", { json: definition });
  }

  list(options: { limit?: number } = {}): AsyncGenerator<T.Database> {
    return this.pages("listDatabases", undefined, options);
  }

  get(databaseId: string): Promise<T.Database> {
    return this.json("getDatabase", { path: { id: databaseId } });
  }

  update(databaseId: string, definition: T.DefinitionPatch): Promise<T.Database> {
    return this.json("updateDatabase", { path: { id: databaseId }, json: definition });
  }

  /** Deletes the database with its collections and profiles (no events fire). */
  delete(databaseId: string): Promise<void> {
    return this.none("deleteDatabase", { path: { id: databaseId } });
  }

  /**
   * Imports CSV (a header row) or `application/x-ndjson`; with `key`, a row that matches a
   * profile on that field updates it. Not retried: send it again yourself with a `key`.
   */
  importProfiles(
    databaseId: string,
    data: string | Uint8Array,
    options: { contentType?: "text/csv" | "application/x-ndjson"; key?: string } = {},
  ): Promise<T.ImportSummary> {
    return this.json("importProfiles", {
      path: { id: databaseId },
      query: { key: options.key },
      body: data,
      contentType: options.contentType ?? "text/csv",
    });
  }
}

export class Collections extends Resource {
  create(databaseId: string, definition: T.Definition): Promise<T.Collection> {
    return this.json("createCollection", { path: { id: databaseId }, json: definition });
  }

  list(databaseId: string, options: { limit?: number } = {}): AsyncGenerator<T.Collection> {
    return this.pages("listCollections", { id: databaseId }, options);
  }

  get(collectionId: string): Promise<T.Collection> {
    return this.json("getCollection", { path: { id: collectionId } });
  }

  update(collectionId: string, definition: T.DefinitionPatch): Promise<T.Collection> {
    return this.json("updateCollection", { path: { id: collectionId }, json: definition });
  }

  delete(collectionId: string): Promise<void> {
    return this.none("deleteCollection", { path: { id: collectionId } });
  }
}

export class Profiles extends Resource {
  /** Creates a profile; a `create` event goes out. */
  create(databaseId: string, profile: T.ProfileRequest): Promise<T.Profile> {
    return this.json("createProfile", { path: { id: databaseId }, json: profile });
  }

  /** The database's profiles; `where: {email: "piet@example.com"}` filters on one field. */
  list(databaseId: string, options: { where?: Record<string, string | number>; limit?: number } = {}): AsyncGenerator<T.Profile> {
    const query: Query = { limit: options.limit };
    for (const [name, value] of Object.entries(options.where ?? {})) query[`fields.${name}`] = value;
    return this.pages("listProfiles", { id: databaseId }, query);
  }

  get(profileId: string): Promise<T.Profile> {
    return this.json("getProfile", { path: { id: profileId } });
  }

  /** Replaces the fields (those not given are cleared). */
  replace(profileId: string, profile: T.ProfileRequest): Promise<T.Profile> {
    return this.json("replaceProfile", { path: { id: profileId }, json: profile });
  }

  /** Merges the fields; a change that changes nothing fires nothing. */
  update(profileId: string, profile: T.ProfileRequest): Promise<T.Profile> {
    return this.json("updateProfile", { path: { id: profileId }, json: profile });
  }

  /** Deletes the profile and its subprofiles, each with a `delete` event. */
  delete(profileId: string): Promise<void> {
    return this.none("deleteProfile", { path: { id: profileId } });
  }

  /** Deletes the profile and everything stored about it: events, deliveries, attempts, messages. */
  erase(profileId: string): Promise<T.Erasure> {
    return this.json("deleteProfile", { path: { id: profileId }, query: { erase: true } });
  }
}

export class Subprofiles extends Resource {
  create(profileId: string, collectionId: string, fields: Record<string, unknown>): Promise<T.SubprofileView> {
    return this.json("createSubprofile", { path: { id: profileId }, json: { collection_id: collectionId, fields } });
  }

  list(profileId: string, options: { limit?: number } = {}): AsyncGenerator<T.SubprofileView> {
    return this.pages("listSubprofiles", { id: profileId }, options);
  }

  get(subprofileId: string): Promise<T.SubprofileView> {
    return this.json("getSubprofile", { path: { id: subprofileId } });
  }

  replace(subprofileId: string, fields: Record<string, unknown>): Promise<T.SubprofileView> {
    return this.json("replaceSubprofile", { path: { id: subprofileId }, json: { fields } });
  }

  update(subprofileId: string, fields: Record<string, unknown>): Promise<T.SubprofileView> {
    return this.json("updateSubprofile", { path: { id: subprofileId }, json: { fields } });
  }

  delete(subprofileId: string): Promise<void> {
    return this.none("deleteSubprofile", { path: { id: subprofileId } });
  }
}

export class Messages extends Resource {
  /** Registers a sent message; the answer has the open pixel's URL. */
  create(message: T.MessageRequest): Promise<T.Message> {
    return this.json("createMessage", { json: message });
  }

  /** A tracked click URL for `url`, to put in the e-mail. */
  link(messageId: string, url: string): Promise<T.Link> {
    return this.json("createMessageLink", { path: { id: messageId }, json: { url } });
  }

  reportDelivery(messageId: string, report: T.DeliveryReport): Promise<T.Accepted> {
    return this.report("reportDelivery", messageId, report);
  }

  reportBounce(messageId: string, report: T.BounceReport = {}): Promise<T.Accepted> {
    return this.report("reportBounce", messageId, report);
  }

  reportFailure(messageId: string, report: T.FailureReport): Promise<T.Accepted> {
    return this.report("reportFailure", messageId, report);
  }

  reportAbuse(messageId: string, report: T.AbuseReport = {}): Promise<T.Accepted> {
    return this.report("reportAbuse", messageId, report);
  }

  /** Also applies the database's and collection's unsubscribe behaviour. */
  reportUnsubscribe(messageId: string): Promise<T.Accepted> {
    return this.report("reportUnsubscribe", messageId, {});
  }

  private report(operation: OperationId, messageId: string, report: object): Promise<T.Accepted> {
    return this.json(operation, { path: { id: messageId }, json: report });
  }
}

export class Domains extends Resource {
  /** The answer's `record` is the TXT record to publish. */
  create(domain: string): Promise<T.Domain> {
    return this.json("createDomain", { json: { domain } });
  }

  list(options: { limit?: number } = {}): AsyncGenerator<T.Domain> {
    return this.pages("listDomains", undefined, options);
  }

  get(domainId: string): Promise<T.Domain> {
    return this.json("getDomain", { path: { id: domainId } });
  }

  delete(domainId: string): Promise<void> {
    return this.none("deleteDomain", { path: { id: domainId } });
  }

  /** Looks the TXT record up now. */
  validate(domainId: string): Promise<T.DomainValidation> {
    return this.json("validateDomain", { path: { id: domainId } });
  }
}

export class Accounts extends Resource {
  /** The account the API key belongs to; its `id` is what signed calls carry in the account header. */
  current(): Promise<T.Account> {
    return this.json("getAccount");
  }

  /** Operator token: a new account and its first API key (shown once). */
  create(name: string): Promise<T.CreatedAccount> {
    return this.json("createAccount", { json: { name } });
  }

  /** Operator token: every account. */
  list(options: { limit?: number } = {}): AsyncGenerator<T.Account> {
    return this.pages("listAccounts", undefined, options);
  }

  /**
   * Operator token: another API key for the account, named and limited to `scopes`
   * (left out: `manage`, everything). A sender's backend gets `{scopes: ["events:write"]}`:
   * it can send events and nothing else.
   */
  createKey(accountId: string, key?: T.NewKey): Promise<T.CreatedKey> {
    return this.json("createAccountKey", key ? { path: { id: accountId }, json: key } : { path: { id: accountId } });
  }

  /** Operator token: the account's keys with their names, scopes and last use. */
  listKeys(accountId: string): Promise<T.ApiKeyInfo[]> {
    return this.json("listAccountKeys", { path: { id: accountId } });
  }

  /** Operator token: the key stops working at once. */
  deleteKey(accountId: string, keyId: string): Promise<void> {
    return this.none("deleteAccountKey", { path: { id: accountId, key_id: keyId } });
  }
}

export class SigningKeys extends Resource {
  /** The public key set receivers verify with (no token needed). */
  keySet(): Promise<T.KeySet> {
    return this.json("getKeySet");
  }

  /** Operator token: the keys with the DNS records to publish. */
  list(): Promise<T.SigningKeys> {
    return this.json("listSigningKeys");
  }

  /** Operator token: a new key per algorithm, signing after the pre-publication period. */
  rotate(): Promise<T.SigningKeys> {
    return this.json("rotateSigningKeys");
  }
}

/**
 * Talks to a Postbode service. Calls that are safe to repeat (GET, PUT, DELETE, and
 * events sent with an idempotency key) are retried up to `maxRetries` times on 429, 502,
 * 503, 504 and lost connections, after the `Retry-After` the service gives (when it is
 * at most `maxRetryWaitMs`) or an exponential back-off. Errors are `ApiError`s.
 */
export class Postbode {
  readonly events: Events;
  readonly deliveries: Deliveries;
  readonly webhooks: Webhooks;
  readonly databases: Databases;
  readonly collections: Collections;
  readonly profiles: Profiles;
  readonly subprofiles: Subprofiles;
  readonly messages: Messages;
  readonly domains: Domains;
  readonly accounts: Accounts;
  readonly signingKeys: SigningKeys;

  constructor(options: ClientOptions) {
    const transport = new Transport(options);
    this.events = new Events(transport);
    this.deliveries = new Deliveries(transport);
    this.webhooks = new Webhooks(transport);
    this.databases = new Databases(transport);
    this.collections = new Collections(transport);
    this.profiles = new Profiles(transport);
    this.subprofiles = new Subprofiles(transport);
    this.messages = new Messages(transport);
    this.domains = new Domains(transport);
    this.accounts = new Accounts(transport);
    this.signingKeys = new SigningKeys(transport);
  }
}
