<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class Databases extends Resource
{
    /**
     * @param list<array{name: string, type: string, default?: mixed}> $fields
     * @param array<string, mixed> $definition unsubscribe
     * @return array<string, mixed>
     */
    public function create(string $name, array $fields = [], array $definition = []): array
    {
        return $this->transport->json('createDatabase', [], ['json' => ['name' => $name, 'fields' => $fields] + $definition]);
    }

    /** @return \Generator<int, array<string, mixed>> */
    public function list(array $options = []): \Generator
    {
        return $this->transport->pages('listDatabases', [], $options);
    }

    /** @return array<string, mixed> */
    public function get(string $databaseId): array
    {
        return $this->transport->json('getDatabase', ['id' => $databaseId]);
    }

    /** @param array<string, mixed> $definition any of name, fields, unsubscribe @return array<string, mixed> */
    public function update(string $databaseId, array $definition): array
    {
        return $this->transport->json('updateDatabase', ['id' => $databaseId], ['json' => $definition]);
    }

    /** Deletes the database with its collections and profiles (no events fire). */
    public function delete(string $databaseId): void
    {
        $this->transport->call('deleteDatabase', ['id' => $databaseId]);
    }

    /**
     * Imports CSV (a header row) or application/x-ndjson; with $key, a row that matches a
     * profile on that field updates it. Not retried: send it again yourself with a $key.
     *
     * @return array{created: int, updated: int, unchanged: int, rejected: list<array{line: int, error: string}>, rejected_count: int}
     */
    public function importProfiles(string $databaseId, string $data, string $contentType = 'text/csv', ?string $key = null): array
    {
        return $this->transport->json('importProfiles', ['id' => $databaseId], [
            'query' => ['key' => $key],
            'body' => $data,
            'contentType' => $contentType,
        ]);
    }
}
