<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class Subprofiles extends Resource
{
    /** @param array<string, mixed> $fields @return array<string, mixed> */
    public function create(string $profileId, string $collectionId, array $fields): array
    {
        $body = ['collection_id' => $collectionId, 'fields' => (object) $fields];
        return $this->transport->json('createSubprofile', ['id' => $profileId], ['json' => $body]);
    }

    /** @return \Generator<int, array<string, mixed>> */
    public function list(string $profileId, array $options = []): \Generator
    {
        return $this->transport->pages('listSubprofiles', ['id' => $profileId], $options);
    }

    /** @return array<string, mixed> */
    public function get(string $subprofileId): array
    {
        return $this->transport->json('getSubprofile', ['id' => $subprofileId]);
    }

    /** @param array<string, mixed> $fields @return array<string, mixed> */
    public function replace(string $subprofileId, array $fields): array
    {
        return $this->transport->json('replaceSubprofile', ['id' => $subprofileId], ['json' => ['fields' => (object) $fields]]);
    }

    /** @param array<string, mixed> $fields @return array<string, mixed> */
    public function update(string $subprofileId, array $fields): array
    {
        return $this->transport->json('updateSubprofile', ['id' => $subprofileId], ['json' => ['fields' => (object) $fields]]);
    }

    public function delete(string $subprofileId): void
    {
        $this->transport->call('deleteSubprofile', ['id' => $subprofileId]);
    }
}
