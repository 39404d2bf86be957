<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/**
 * A call that must be refused (answer it 401). $reason says why, in the words every
 * Postbode verifier uses: missing_header, malformed, not_covered, untrusted_key_domain,
 * stale, wrong_account, digest_mismatch, unknown_key, bad_signature or replayed_nonce.
 */
final class VerificationException extends \RuntimeException
{
    public function __construct(public readonly string $reason, string $message)
    {
        parent::__construct($message);
    }

    public static function malformed(string $message): self
    {
        return new self('malformed', $message);
    }
}
