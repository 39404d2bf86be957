<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/** Nonces in this process's memory: for long-running PHP servers (and tests). */
final class MemoryNonceStore implements NonceStore
{
    /** @var array<string, int> nonce => when it was seen, oldest first */
    private array $seen = [];

    public function __construct(private readonly int $maxEntries = 100_000)
    {
    }

    public function checkAndInsert(string $nonce, int $now, int $windowSeconds): bool
    {
        foreach ($this->seen as $old => $at) {
            if ($at > $now - $windowSeconds) {
                break;
            }
            unset($this->seen[$old]);
        }
        if (isset($this->seen[$nonce])) {
            return false;
        }
        while (count($this->seen) >= $this->maxEntries) {
            unset($this->seen[array_key_first($this->seen)]);
        }
        $this->seen[$nonce] = $now;
        return true;
    }
}
