<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/** Remembers the nonces of accepted calls for as long as a call stays acceptable. */
interface NonceStore
{
    /** Records $nonce; false when it was seen within the window. */
    public function checkAndInsert(string $nonce, int $now, int $windowSeconds): bool;
}
