<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class Collections extends Resource
{
    /**
     * @param list<array{name: string, type: string, default?: mixed}> $fields
     * @param array<string, mixed> $definition unsubscribe
     * @return array<string, mixed>
     */
    public function create(string $databaseId, string $name, array $fields = [], array $definition = []): array
    {
        $body = ['name' => $name, 'fields' => $fields] + $definition;
        return $this->transport->json('createCollection', ['id' => $databaseId], ['json' => $body]);
    }

    /** @return \Generator<int, array<string, mixed>> */
    public function list(string $databaseId, array $options = []): \Generator
    {
        return $this->transport->pages('listCollections', ['id' => $databaseId], $options);
    }

    /** @return array<string, mixed> */
    public function get(string $collectionId): array
    {
        return $this->transport->json('getCollection', ['id' => $collectionId]);
    }

    /** @param array<string, mixed> $definition @return array<string, mixed> */
    public function update(string $collectionId, array $definition): array
    {
        return $this->transport->json('updateCollection', ['id' => $collectionId], ['json' => $definition]);
    }

    public function delete(string $collectionId): void
    {
        $this->transport->call('deleteCollection', ['id' => $collectionId]);
    }
}
