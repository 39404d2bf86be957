<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class Accounts extends Resource
{
    /** @return array{id: string, name: string, created_at: string} the account the API key belongs to */
    public function current(): array
    {
        return $this->transport->json('getAccount');
    }

    /** Operator token: a new account and its first API key (shown once). @return array{id: string, name: string, created_at: string, api_key: string} */
    public function create(string $name): array
    {
        return $this->transport->json('createAccount', [], ['json' => ['name' => $name]]);
    }

    /** Operator token: every account. @return \Generator<int, array<string, mixed>> */
    public function list(array $options = []): \Generator
    {
        return $this->transport->pages('listAccounts', [], $options);
    }

    /**
     * Operator token: another API key for the account, named and limited to $scopes
     * (null: `manage`, everything). A sender's backend gets ['events:write']: it can send
     * events and nothing else.
     *
     * @param list<string>|null $scopes
     * @return array{id: string, api_key: string, name: ?string, scopes: list<string>}
     */
    public function createKey(string $accountId, ?string $name = null, ?array $scopes = null): array
    {
        $body = array_filter(['name' => $name, 'scopes' => $scopes], static fn ($v) => $v !== null);
        return $this->transport->json('createAccountKey', ['id' => $accountId], $body === [] ? [] : ['json' => $body]);
    }

    /** Operator token: the account's keys with their names, scopes and last use. @return list<array<string, mixed>> */
    public function listKeys(string $accountId): array
    {
        return $this->transport->json('listAccountKeys', ['id' => $accountId]);
    }

    /** Operator token: the key stops working at once. */
    public function deleteKey(string $accountId, string $keyId): void
    {
        $this->transport->call('deleteAccountKey', ['id' => $accountId, 'key_id' => $keyId]);
    }
}
