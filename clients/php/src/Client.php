<?php

declare(strict_types=1);

namespace Postbode;

use Postbode\Http\HttpClient;
use Postbode\Resources\Accounts;
use Postbode\Resources\Collections;
use Postbode\Resources\Databases;
use Postbode\Resources\Deliveries;
use Postbode\Resources\Domains;
use Postbode\Resources\Events;
use Postbode\Resources\Messages;
use Postbode\Resources\Profiles;
use Postbode\Resources\SigningKeys;
use Postbode\Resources\Subprofiles;
use Postbode\Resources\Webhooks;

/**
 * Talks to a Postbode service; its resources are its properties
 * ($client->webhooks->create(...)). Answers are arrays as the API's JSON has them.
 *
 * $token is an account's API key (pb_...), or the operator token for accounts and
 * signing keys. Calls that are safe to repeat (GET, PUT, DELETE, and events sent with an
 * idempotency key) are retried up to $maxRetries times on 429, 502, 503, 504 and lost
 * connections, after the Retry-After the service gives (when it is at most
 * $maxRetryWait seconds) or an exponential back-off. An error answer is an ApiException.
 */
final class Client
{
    public readonly Events $events;
    public readonly Deliveries $deliveries;
    public readonly Webhooks $webhooks;
    public readonly Databases $databases;
    public readonly Collections $collections;
    public readonly Profiles $profiles;
    public readonly Subprofiles $subprofiles;
    public readonly Messages $messages;
    public readonly Domains $domains;
    public readonly Accounts $accounts;
    public readonly SigningKeys $signingKeys;

    public function __construct(
        string $token,
        string $baseUrl = 'http://127.0.0.1:8080',
        float $timeout = 30.0,
        int $maxRetries = 2,
        float $maxRetryWait = 60.0,
        ?HttpClient $http = null,
    ) {
        $transport = new Transport($token, $baseUrl, $timeout, $maxRetries, $maxRetryWait, $http);
        $this->events = new Events($transport);
        $this->deliveries = new Deliveries($transport);
        $this->webhooks = new Webhooks($transport);
        $this->databases = new Databases($transport);
        $this->collections = new Collections($transport);
        $this->profiles = new Profiles($transport);
        $this->subprofiles = new Subprofiles($transport);
        $this->messages = new Messages($transport);
        $this->domains = new Domains($transport);
        $this->accounts = new Accounts($transport);
        $this->signingKeys = new SigningKeys($transport);
    }
}
