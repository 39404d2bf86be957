<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class Profiles extends Resource
{
    /**
     * Creates a profile; a create event goes out.
     *
     * @param array<string, mixed> $fields
     * @param list<string>|null $interests
     * @return array<string, mixed>
     */
    public function create(string $databaseId, array $fields, ?array $interests = null): array
    {
        return $this->transport->json('createProfile', ['id' => $databaseId], ['json' => self::body($fields, $interests)]);
    }

    /**
     * The database's profiles; $where = ['email' => 'piet@example.com'] filters on one field.
     *
     * @param array<string, scalar> $where
     * @return \Generator<int, array<string, mixed>>
     */
    public function list(string $databaseId, array $where = [], ?int $limit = null): \Generator
    {
        $query = ['limit' => $limit];
        foreach ($where as $name => $value) {
            $query["fields.{$name}"] = $value;
        }
        return $this->transport->pages('listProfiles', ['id' => $databaseId], $query);
    }

    /** @return array<string, mixed> */
    public function get(string $profileId): array
    {
        return $this->transport->json('getProfile', ['id' => $profileId]);
    }

    /** Replaces the fields (those not given are cleared). @return array<string, mixed> */
    public function replace(string $profileId, array $fields, ?array $interests = null): array
    {
        return $this->transport->json('replaceProfile', ['id' => $profileId], ['json' => self::body($fields, $interests)]);
    }

    /** Merges the fields; a change that changes nothing fires nothing. @return array<string, mixed> */
    public function update(string $profileId, array $fields, ?array $interests = null): array
    {
        return $this->transport->json('updateProfile', ['id' => $profileId], ['json' => self::body($fields, $interests)]);
    }

    /** Deletes the profile and its subprofiles, each with a delete event. */
    public function delete(string $profileId): void
    {
        $this->transport->call('deleteProfile', ['id' => $profileId]);
    }

    /**
     * Deletes the profile and everything stored about it: events, deliveries, attempts, messages.
     *
     * @return array{profile_id: string, erased: array{events: int, deliveries: int, attempts: int, messages: int}}
     */
    public function erase(string $profileId): array
    {
        return $this->transport->json('deleteProfile', ['id' => $profileId], ['query' => ['erase' => true]]);
    }

    /** @return array<string, mixed> */
    private static function body(array $fields, ?array $interests): array
    {
        return self::given(['fields' => (object) $fields, 'interests' => $interests]);
    }
}
