<?php

declare(strict_types=1);

namespace Postbode;

/**
 * Every API operation the client calls, by the operationId of Postbode's OpenAPI
 * document: its method and path. The tests check that the document the server serves
 * has each, with this method and path.
 */
final class Operations
{
    public const ALL = [
        // accounts (the operator token, except getAccount)
        'getAccount' => ['GET', '/v1/account'],
        'listAccounts' => ['GET', '/v1/accounts'],
        'createAccount' => ['POST', '/v1/accounts'],
        'createAccountKey' => ['POST', '/v1/accounts/{id}/keys'],
        'listAccountKeys' => ['GET', '/v1/accounts/{id}/keys'],
        'deleteAccountKey' => ['DELETE', '/v1/accounts/{id}/keys/{key_id}'],
        // events and deliveries
        'createEvent' => ['POST', '/v1/events'],
        'createEventBatch' => ['POST', '/v1/events/batch'],
        'getEvent' => ['GET', '/v1/events/{id}'],
        'getDelivery' => ['GET', '/v1/deliveries/{id}'],
        'resendDelivery' => ['POST', '/v1/deliveries/{id}/resend'],
        // webhooks
        'listWebhooks' => ['GET', '/v1/webhooks'],
        'createWebhook' => ['POST', '/v1/webhooks'],
        'getWebhook' => ['GET', '/v1/webhooks/{id}'],
        'updateWebhook' => ['PATCH', '/v1/webhooks/{id}'],
        'deleteWebhook' => ['DELETE', '/v1/webhooks/{id}'],
        'getWebhookSecret' => ['GET', '/v1/webhooks/{id}/secret'],
        'rotateWebhookSecret' => ['POST', '/v1/webhooks/{id}/secret/rotate'],
        'getVerificationFile' => ['GET', '/v1/webhooks/{id}/verification-file'],
        'verifyWebhook' => ['POST', '/v1/webhooks/{id}/verify'],
        'testWebhook' => ['POST', '/v1/webhooks/{id}/test'],
        'checkWebhooks' => ['POST', '/v1/webhooks/check'],
        'recoverWebhook' => ['POST', '/v1/webhooks/{id}/recover'],
        'replayWebhook' => ['POST', '/v1/webhooks/{id}/replay'],
        'getReplayJob' => ['GET', '/v1/jobs/{id}'],
        'listWebhookDeliveries' => ['GET', '/v1/webhooks/{id}/deliveries'],
        'listAttempts' => ['GET', '/v1/webhooks/{id}/attempts'],
        'getWebhookStats' => ['GET', '/v1/webhooks/{id}/stats'],
        // profile data
        'listDatabases' => ['GET', '/v1/databases'],
        'createDatabase' => ['POST', '/v1/databases'],
        'getDatabase' => ['GET', '/v1/databases/{id}'],
        'updateDatabase' => ['PATCH', '/v1/databases/{id}'],
        'deleteDatabase' => ['DELETE', '/v1/databases/{id}'],
        'importProfiles' => ['POST', '/v1/databases/{id}/import'],
        'listCollections' => ['GET', '/v1/databases/{id}/collections'],
        'createCollection' => ['POST', '/v1/databases/{id}/collections'],
        'getCollection' => ['GET', '/v1/collections/{id}'],
        'updateCollection' => ['PATCH', '/v1/collections/{id}'],
        'deleteCollection' => ['DELETE', '/v1/collections/{id}'],
        'listProfiles' => ['GET', '/v1/databases/{id}/profiles'],
        'createProfile' => ['POST', '/v1/databases/{id}/profiles'],
        'getProfile' => ['GET', '/v1/profiles/{id}'],
        'replaceProfile' => ['PUT', '/v1/profiles/{id}'],
        'updateProfile' => ['PATCH', '/v1/profiles/{id}'],
        'deleteProfile' => ['DELETE', '/v1/profiles/{id}'],
        'listSubprofiles' => ['GET', '/v1/profiles/{id}/subprofiles'],
        'createSubprofile' => ['POST', '/v1/profiles/{id}/subprofiles'],
        'getSubprofile' => ['GET', '/v1/subprofiles/{id}'],
        'replaceSubprofile' => ['PUT', '/v1/subprofiles/{id}'],
        'updateSubprofile' => ['PATCH', '/v1/subprofiles/{id}'],
        'deleteSubprofile' => ['DELETE', '/v1/subprofiles/{id}'],
        // messages and reports
        'createMessage' => ['POST', '/v1/messages'],
        'createMessageLink' => ['POST', '/v1/messages/{id}/links'],
        'reportDelivery' => ['POST', '/v1/messages/{id}/deliveries'],
        'reportBounce' => ['POST', '/v1/messages/{id}/bounces'],
        'reportFailure' => ['POST', '/v1/messages/{id}/failures'],
        'reportAbuse' => ['POST', '/v1/messages/{id}/abuses'],
        'reportUnsubscribe' => ['POST', '/v1/messages/{id}/unsubscribes'],
        // validated domains
        'listDomains' => ['GET', '/v1/domains'],
        'createDomain' => ['POST', '/v1/domains'],
        'getDomain' => ['GET', '/v1/domains/{id}'],
        'deleteDomain' => ['DELETE', '/v1/domains/{id}'],
        'validateDomain' => ['POST', '/v1/domains/{id}/validate'],
        // signing keys
        'getKeySet' => ['GET', '/.well-known/postbode/keys'],
        'listSigningKeys' => ['GET', '/v1/signing-keys'],
        'rotateSigningKeys' => ['POST', '/v1/signing-keys/rotate'],
    ];
}
