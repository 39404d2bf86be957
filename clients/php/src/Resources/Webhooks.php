<?php

declare(strict_types=1);

namespace Postbode\Resources;

use Postbode\Transport;

final class Webhooks extends Resource
{
    /**
     * Creates a webhook; $settings are those of docs/api.md (events, format, signatures,
     * headers, ...). The answer holds its secret, shown once.
     *
     * @param array<string, mixed> $settings
     * @return array<string, mixed>
     */
    public function create(string $url, array $settings = []): array
    {
        return $this->transport->json('createWebhook', [], ['json' => ['url' => $url] + $settings]);
    }

    /**
     * Every webhook of the account, oldest first, fetched page by page.
     *
     * @param array{database_id?: string, collection_id?: string, limit?: int} $filter
     * @return \Generator<int, array<string, mixed>>
     */
    public function list(array $filter = []): \Generator
    {
        return $this->transport->pages('listWebhooks', [], $filter);
    }

    /** @return array<string, mixed> */
    public function get(string $webhookId): array
    {
        return $this->transport->json('getWebhook', ['id' => $webhookId]);
    }

    /**
     * Merges $settings into the webhook's; the result is checked as a whole.
     *
     * @param array<string, mixed> $settings
     * @return array<string, mixed>
     */
    public function update(string $webhookId, array $settings): array
    {
        return $this->transport->json('updateWebhook', ['id' => $webhookId], ['json' => $settings]);
    }

    public function delete(string $webhookId): void
    {
        $this->transport->call('deleteWebhook', ['id' => $webhookId]);
    }

    /** @return array{secret: string, previous_secret: ?string, previous_secret_expires_at: ?string} */
    public function secret(string $webhookId): array
    {
        return $this->transport->json('getWebhookSecret', ['id' => $webhookId]);
    }

    /** @return array{secret: string, previous_secret_expires_at: string} a new secret; the previous one signs beside it for a day */
    public function rotateSecret(string $webhookId): array
    {
        return $this->transport->json('rotateWebhookSecret', ['id' => $webhookId]);
    }

    /** The ownership file's content, to place next to the callback script. */
    public function verificationFile(string $webhookId): string
    {
        return $this->transport->call('getVerificationFile', ['id' => $webhookId])->body;
    }

    /** @return array{status: string, checked: list<array{url: string, outcome: string}>} fetches the ownership file now */
    public function verify(string $webhookId): array
    {
        return $this->transport->json('verifyWebhook', ['id' => $webhookId]);
    }

    /**
     * One real, signed call now: ['type' => ..., 'data' => ...] rendered like an event, or
     * ['body' => ...] sent as typed.
     *
     * @param array<string, mixed> $request
     * @return array<string, mixed>
     */
    public function test(string $webhookId, array $request = []): array
    {
        return $this->transport->json('testWebhook', ['id' => $webhookId], ['json' => (object) $request]);
    }

    /** @return array{data: list<array<string, mixed>>} a test call to every verified webhook, a new check of the others */
    public function checkAll(): array
    {
        return $this->transport->json('checkWebhooks');
    }

    /** @return array{deliveries: int} sends again every failed (or backing-off) delivery created in [since, until] */
    public function recover(string $webhookId, \DateTimeInterface|string $since, \DateTimeInterface|string|null $until = null): array
    {
        $body = self::given(['since' => Transport::queryValue($since), 'until' => $until === null ? null : Transport::queryValue($until)]);
        return $this->transport->json('recoverWebhook', ['id' => $webhookId], ['json' => $body]);
    }

    /**
     * A replay job: the deliveries of [since, until] with a listed status sent again, and
     * ('missing', or no status) the events of the range the webhook never had. Follow it
     * with job().
     *
     * @param list<string>|null $status
     * @param list<string>|null $eventTypes
     * @return array{job_id: string, matched: int}
     */
    public function replay(
        string $webhookId,
        \DateTimeInterface|string $since,
        \DateTimeInterface|string|null $until = null,
        ?array $status = null,
        ?array $eventTypes = null,
    ): array {
        $body = self::given([
            'since' => Transport::queryValue($since),
            'until' => $until === null ? null : Transport::queryValue($until),
            'status' => $status,
            'event_types' => $eventTypes,
        ]);
        return $this->transport->json('replayWebhook', ['id' => $webhookId], ['json' => $body]);
    }

    /** @return array<string, mixed> a replay job's progress: status, done of total */
    public function job(string $jobId): array
    {
        return $this->transport->json('getReplayJob', ['id' => $jobId]);
    }

    /**
     * The webhook's deliveries, newest first.
     *
     * @param array{status?: string, event_type?: string, since?: \DateTimeInterface|string, until?: \DateTimeInterface|string, limit?: int} $filter
     * @return \Generator<int, array<string, mixed>>
     */
    public function deliveries(string $webhookId, array $filter = []): \Generator
    {
        return $this->transport->pages('listWebhookDeliveries', ['id' => $webhookId], $filter);
    }

    /**
     * The attempt log, newest first.
     *
     * @param array{status?: string, since?: \DateTimeInterface|string, until?: \DateTimeInterface|string, limit?: int} $filter
     * @return \Generator<int, array<string, mixed>>
     */
    public function attempts(string $webhookId, array $filter = []): \Generator
    {
        return $this->transport->pages('listAttempts', ['id' => $webhookId], $filter);
    }

    /**
     * The whole (filtered) attempt log as 'csv' or 'jsonl' text.
     *
     * @param array{status?: string, since?: \DateTimeInterface|string, until?: \DateTimeInterface|string} $filter
     */
    public function exportAttempts(string $webhookId, string $format = 'csv', array $filter = []): string
    {
        return $this->transport->call('listAttempts', ['id' => $webhookId], ['format' => $format] + $filter)->body;
    }

    /**
     * Delivered, failed, skipped and latency per 'hour' or 'day' (default: the last 24 h).
     *
     * @param array{since?: \DateTimeInterface|string, until?: \DateTimeInterface|string, bucket?: string} $range
     * @return array<string, mixed>
     */
    public function stats(string $webhookId, array $range = []): array
    {
        return $this->transport->json('getWebhookStats', ['id' => $webhookId], ['query' => $range]);
    }
}
