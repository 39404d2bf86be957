<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class Domains extends Resource
{
    /** @return array<string, mixed> the domain; its record is the TXT record to publish */
    public function create(string $domain): array
    {
        return $this->transport->json('createDomain', [], ['json' => ['domain' => $domain]]);
    }

    /** @return \Generator<int, array<string, mixed>> */
    public function list(array $options = []): \Generator
    {
        return $this->transport->pages('listDomains', [], $options);
    }

    /** @return array<string, mixed> */
    public function get(string $domainId): array
    {
        return $this->transport->json('getDomain', ['id' => $domainId]);
    }

    public function delete(string $domainId): void
    {
        $this->transport->call('deleteDomain', ['id' => $domainId]);
    }

    /** @return array{status: string, checked_at: ?string, outcome: ?string} looks the TXT record up now */
    public function validate(string $domainId): array
    {
        return $this->transport->json('validateDomain', ['id' => $domainId]);
    }
}
