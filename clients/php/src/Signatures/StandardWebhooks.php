<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/**
 * Checks webhook-id, webhook-timestamp and webhook-signature: HMAC-SHA256 with the
 * webhook's secret (the Standard Webhooks specification).
 */
final class StandardWebhooks
{
    /** @var list<string> */
    private readonly array $keys;

    /**
     * @param string|list<string> $secret the webhook's whsec_... secret; during a rotation both
     * @param int $tolerance how far (seconds) the timestamp may be from this machine's clock
     */
    public function __construct(string|array $secret, private readonly int $tolerance = 300)
    {
        $keys = [];
        foreach ((array) $secret as $one) {
            if (!str_starts_with($one, 'whsec_')) {
                throw new \InvalidArgumentException('a Postbode secret starts with whsec_');
            }
            $key = base64_decode(substr($one, 6), true);
            if ($key === false || $key === '') {
                throw new \InvalidArgumentException('the secret is not whsec_ followed by base64');
            }
            $keys[] = $key;
        }
        if ($keys === []) {
            throw new \InvalidArgumentException('give at least one secret');
        }
        $this->keys = $keys;
    }

    /** verify() for a Request (Request::fromGlobals(), say). */
    public function verifyRequest(Request $request, ?int $now = null): void
    {
        $this->verify($request->headerPairs(), $request->body, $now);
    }

    /**
     * Returns when the call is genuine; throws VerificationException otherwise.
     *
     * @param array<string, string|list<string>>|list<array{0: string, 1: string}> $headers
     */
    public function verify(array $headers, string $body, ?int $now = null): void
    {
        $request = new Request('POST', '/', $headers, $body);
        $id = $request->required('webhook-id');
        $timestamp = $request->required('webhook-timestamp');
        $signatures = $request->required('webhook-signature');
        if (preg_match('/^-?\d+$/', $timestamp) !== 1) {
            throw VerificationException::malformed('the webhook-timestamp header is not Unix seconds');
        }
        $skew = ($now ?? time()) - (int) $timestamp;
        if (abs($skew) > $this->tolerance) {
            throw new VerificationException('stale', "the call is {$skew} s away from now");
        }
        foreach ($this->keys as $key) {
            $expected = hash_hmac('sha256', "{$id}.{$timestamp}.{$body}", $key, true);
            foreach (preg_split('/\s+/', $signatures) ?: [] as $candidate) {
                [$version, $encoded] = array_pad(explode(',', $candidate, 2), 2, '');
                $given = base64_decode($encoded, true);
                if ($version === 'v1' && $given !== false && hash_equals($expected, $given)) {
                    return;
                }
            }
        }
        throw new VerificationException('bad_signature', 'the signature does not verify');
    }
}
