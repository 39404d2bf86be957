<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class SigningKeys extends Resource
{
    /** @return array{keys: list<array<string, mixed>>} the public key set receivers verify with (no token needed) */
    public function keySet(): array
    {
        return $this->transport->json('getKeySet');
    }

    /** Operator token: the keys with the DNS records to publish. @return array<string, mixed> */
    public function list(): array
    {
        return $this->transport->json('listSigningKeys');
    }

    /** Operator token: a new key per algorithm, signing after the pre-publication period. @return array<string, mixed> */
    public function rotate(): array
    {
        return $this->transport->json('rotateSigningKeys');
    }
}
