<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/** @internal what the schemes share */
final class Checks
{
    public static function base64(string $text, string $what): string
    {
        $decoded = base64_decode(trim($text), true);
        if ($decoded === false || base64_encode($decoded) !== trim($text)) {
            throw VerificationException::malformed("{$what} is not base64");
        }
        return $decoded;
    }

    /** Compares the body's SHA-256 in constant time, so a forger learns nothing from timing. */
    public static function sameDigest(string $body, string $received): bool
    {
        return hash_equals(hash('sha256', $body, true), $received);
    }

    public static function age(int $sent, int $now, int $maxAge, int $futureSkew): void
    {
        $age = $now - $sent;
        if ($age > $maxAge) {
            throw new VerificationException('stale', "the call is {$age} s old, more than allowed");
        }
        if (-$age > $futureSkew) {
            throw new VerificationException('stale', 'the call is dated ' . -$age . ' s in the future');
        }
    }

    /** Whether $keyId is <selector>._domainkey.<$trustedDomain> exactly. */
    public static function isUnderDomain(string $keyId, string $trustedDomain): bool
    {
        $lower = strtolower($keyId);
        $at = strpos($lower, '._domainkey.');
        if ($at === false || $at === 0) {
            return false;
        }
        $domain = rtrim(substr($lower, $at + strlen('._domainkey.')), '.');
        return $domain !== '' && $domain === rtrim(strtolower($trustedDomain), '.');
    }
}
