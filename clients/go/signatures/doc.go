// Package signatures verifies Postbode's calls on the receiving side, one verifier per
// signature scheme of docs/payloads.md:
//
//   - StandardWebhooks: HMAC-SHA256 with the webhook's secret (standard-webhooks);
//   - HTTPSignature: the suite's draft-cavage HTTP Signature, rsa-sha256 (http-signature);
//   - RFC9421: HTTP Message Signatures with Ed25519 (rfc9421).
//
// Each takes the request as net/http received it (FromHTTP reads the body and puts it
// back), or a Request filled from any other framework. A genuine call returns nil;
// anything else an *Error whose Code says why. Answer such a call 401.
//
// Standard library only.
package signatures
