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

    /** Operator token: another API key for the account. @return array{id: string, api_key: string} */
    public function createKey(string $accountId): array
    {
        return $this->transport->json('createAccountKey', ['id' => $accountId]);
    }

    /** Operator token: the key stops working at once. */
    public function deleteKey(string $accountId, string $keyId): void
    {
        $this->transport->call('deleteAccountKey', ['id' => $accountId, 'key_id' => $keyId]);
    }
}
