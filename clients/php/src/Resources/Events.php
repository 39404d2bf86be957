<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class Events extends Resource
{
    /**
     * Sends one event (202: committed). With an $idempotencyKey (sent as the
     * Idempotency-Key header) a repeat within 24 h answers the first event again, which
     * also makes the call safe to retry.
     *
     * @param array<string, mixed> $options profile_id, ordering_key
     * @return array{id: string, deliveries: int}
     */
    public function send(string $type, mixed $data = null, ?string $idempotencyKey = null, array $options = []): array
    {
        return $this->transport->json('createEvent', [], [
            'json' => self::given(['type' => $type, 'data' => $data]) + $options,
            'headers' => $idempotencyKey !== null ? ['Idempotency-Key' => $idempotencyKey] : [],
            'idempotent' => $idempotencyKey !== null || isset($options['idempotency_key']),
        ]);
    }

    /**
     * Sends up to 1000 events, all or nothing; retried only when each carries an idempotency_key.
     *
     * @param list<array<string, mixed>> $events
     * @return array{ids: list<string>}
     */
    public function sendBatch(array $events): array
    {
        $keyed = array_filter($events, static fn (array $e): bool => isset($e['idempotency_key'])) === $events;
        return $this->transport->json('createEventBatch', [], ['json' => ['events' => $events], 'idempotent' => $keyed]);
    }

    /** @return array<string, mixed> the event, its canonical body and its deliveries */
    public function get(string $eventId): array
    {
        return $this->transport->json('getEvent', ['id' => $eventId]);
    }
}
