/**
 * The shapes the API takes and answers with, named after the schemas of Postbode's
 * OpenAPI document (`components` in schema.ts, generated from it by openapi-typescript).
 */
import type { components } from "./schema.js";

type Schemas = components["schemas"];

export type Account = Schemas["Account"];
export type CreatedAccount = Schemas["CreatedAccount"];
export type CreatedKey = Schemas["CreatedKey"];
export type NewKey = Schemas["NewKey"];
export type ApiKeyInfo = Schemas["ApiKeyInfo"];
export type Webhook = Schemas["WebhookView"];
export type WebhookSettings = Schemas["WebhookSettings"];
export type WebhookPatch = Schemas["WebhookPatch"];
export type WebhookSecret = Schemas["SecretView"];
export type RotatedSecret = Schemas["RotatedSecret"];
export type VerifyResult = Schemas["VerifyAnswer"];
export type TestRequest = Schemas["TestRequest"];
export type TestReport = Schemas["TestReport"];
export type CheckResult = Schemas["CheckAnswer"];
export type Recovered = Schemas["Recovered"];
export type ReplayStarted = Schemas["ReplayStarted"];
export type Job = Schemas["JobView"];
export type EventRequest = Schemas["EventRequest"];
export type Accepted = Schemas["Accepted"];
export type BatchAccepted = Schemas["BatchAccepted"];
export type Event = Schemas["EventView"];
export type Delivery = Schemas["Delivery"];
export type DeliveryStatus = Schemas["DeliveryStatus"];
export type Attempt = Schemas["Attempt"];
export type Stats = Schemas["StatsView"];
export type Definition = Schemas["Definition"];
export type DefinitionPatch = Schemas["DefinitionPatch"];
export type Database = Schemas["DatabaseView"];
export type Collection = Schemas["CollectionView"];
export type ProfileRequest = Schemas["ProfileRequest"];
export type Profile = Schemas["ProfileView"];
export type SubprofileView = Schemas["SubprofileView"];
export type Erasure = Schemas["ErasureView"];
export type ImportSummary = Schemas["ImportSummary"];
export type MessageRequest = Schemas["MessageRequest"];
export type Message = Schemas["MessageView"];
export type Link = Schemas["LinkView"];
export type DeliveryReport = Schemas["DeliveryReport"];
export type BounceReport = Schemas["BounceReport"];
export type FailureReport = Schemas["FailureReport"];
export type AbuseReport = Schemas["AbuseReport"];
export type Domain = Schemas["DomainView"];
export type DomainValidation = Schemas["ValidationView"];
export type SigningKeys = Schemas["SigningKeys"];
export type KeySet = Schemas["KeySet"];

/** A page of a list; `next_cursor` is `null` on the last one. */
export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}
