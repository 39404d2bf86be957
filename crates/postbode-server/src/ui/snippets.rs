//! How a receiver checks this webhook's signatures: for each scheme it signs with, code
//! that verifies a call (with the libraries receivers already use for Standard
//! Webhooks) and the `postbode verify` command filled in with this service's key
//! address, key domain and the account's id.

use postbode_core::webhook::{SignatureScheme, Webhook};

use crate::state::AppState;

pub struct Snippet {
    /// The scheme's name as the API spells it (`standard-webhooks`).
    pub scheme: &'static str,
    pub intro: &'static str,
    /// Title and code of each way to check it.
    pub ways: Vec<(&'static str, String)>,
}

/// One per scheme the webhook signs with, in its order.
pub fn for_webhook(state: &AppState, webhook: &Webhook) -> Vec<Snippet> {
    let keys = format!("{}/.well-known/postbode/keys", state.public_url);
    let account = format!("{}{}", state.signature.account_prefix, webhook.account_id);
    let published = format!(
        "postbode verify call.txt --keys {keys} \\\n    --key-domain {} --account {account}",
        state.key_domain
    );
    webhook
        .settings
        .signatures
        .iter()
        .map(|scheme| match scheme {
            SignatureScheme::StandardWebhooks => Snippet {
                scheme: "standard-webhooks",
                intro: "HMAC-SHA256 with the signing secret (below), in the webhook-id, webhook-timestamp and \
                        webhook-signature headers; Svix's and the Standard Webhooks libraries check it as it is.",
                ways: vec![
                    (
                        "Python (pip install standardwebhooks)",
                        "from standardwebhooks.webhooks import Webhook\n\n\
                         # body: the raw request body (bytes); headers: the request's headers.\n\
                         # Raises WebhookVerificationError when the signature or its time is wrong.\n\
                         event = Webhook(POSTBODE_SECRET).verify(body, headers)"
                            .to_owned(),
                    ),
                    (
                        "Node.js (npm install standardwebhooks)",
                        "import { Webhook } from \"standardwebhooks\";\n\n\
                         // body: the raw request body (string); headers: the request's headers.\n\
                         const event = new Webhook(process.env.POSTBODE_SECRET).verify(body, headers);"
                            .to_owned(),
                    ),
                    (
                        "A captured call, on the command line",
                        "postbode verify call.txt --secret \"$POSTBODE_SECRET\"".to_owned(),
                    ),
                ],
            },
            SignatureScheme::HttpSignature => Snippet {
                scheme: "http-signature",
                intro: "RSA-SHA256 over Date, Digest, X-Postbode-Account and X-Nonce (draft-cavage), with keys \
                        published like DKIM keys at the address below and in DNS.",
                ways: vec![("A captured call, on the command line", published.clone())],
            },
            SignatureScheme::Rfc9421 => Snippet {
                scheme: "rfc9421",
                intro: "HTTP Message Signatures (RFC 9421) with Ed25519, in Signature-Input and Signature, \
                        covering Content-Digest; keys published at the address below and in DNS.",
                ways: vec![("A captured call, on the command line", published.clone())],
            },
        })
        .collect()
}
