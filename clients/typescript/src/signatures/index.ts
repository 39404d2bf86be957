export { VerificationError, type BodyInput, type HeadersInput, type ReceivedCall, type RefusalCode, type Verified } from "./common.js";
export { HttpSignature, type HttpSignatureOptions } from "./http-signature.js";
export { PublicKey, PublishedKeys, nodeResolver, type KeySetDocument, type ResolveTxt, type UrlOptions } from "./keys.js";
export { NonceCache, type NonceStore } from "./nonces.js";
export { Rfc9421, type Rfc9421Options } from "./rfc9421.js";
export { StandardWebhooks } from "./standard-webhooks.js";
