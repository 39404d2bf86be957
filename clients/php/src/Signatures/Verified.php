<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/** What a successful check established: the key that signed and what it covered. */
final class Verified
{
    /** @param list<string> $covered */
    public function __construct(
        public readonly string $keyId,
        public readonly string $algorithm,
        public readonly array $covered,
    ) {
    }
}
