<?php

declare(strict_types=1);

namespace Postbode\Tests;

use PHPUnit\Framework\TestCase;
use Postbode\Signatures\HttpSignature;
use Postbode\Signatures\MemoryNonceStore;
use Postbode\Signatures\PublishedKeys;
use Postbode\Signatures\Request;
use Postbode\Signatures\Rfc9421;
use Postbode\Signatures\StandardWebhooks;
use Postbode\Signatures\VerificationException;

/**
 * The shared signature vectors (clients/testdata/signature-vectors.json): this library
 * reaches the same outcome as Postbode's Rust crate on every case.
 */
final class VectorsTest extends TestCase
{
    private static function vectors(): array
    {
        return json_decode((string) file_get_contents(__DIR__ . '/../../testdata/signature-vectors.json'), true);
    }

    /** @return iterable<string, array{0: array, 1: array}> */
    public static function cases(): iterable
    {
        $vectors = self::vectors();
        foreach ($vectors['cases'] as $case) {
            yield $case['name'] => [$case, $vectors];
        }
    }

    public function testTheVectorsCoverEveryScheme(): void
    {
        $cases = self::vectors()['cases'];
        self::assertGreaterThanOrEqual(40, count($cases));
        self::assertEqualsCanonicalizing(['standard-webhooks', 'http-signature', 'rfc9421'], array_values(array_unique(array_column($cases, 'scheme'))));
    }

    /** @dataProvider cases */
    public function testEachVectorHasItsExpectedOutcome(array $case, array $vectors): void
    {
        $policy = array_merge($vectors['policy'], $case['policy'] ?? []);
        $keys = ($case['keys'] ?? '') === 'dns'
            ? PublishedKeys::fromDns(static fn (string $name): array => isset($vectors['dns'][$name]) ? [implode('', $vectors['dns'][$name])] : [])
            : PublishedKeys::fromKeySet($vectors['key_set']);
        $request = new Request($case['request']['method'], $case['request']['target'], $case['request']['headers'], $case['request']['body']);
        $verify = match ($case['scheme']) {
            'standard-webhooks' => static fn () => (new StandardWebhooks($case['secrets']))->verify($case['request']['headers'], $request->body, $case['now']),
            'http-signature' => (static function () use ($keys, $policy, $request, $case) {
                $verifier = new HttpSignature($keys, $policy['account'], $policy['key_domain'], $policy['account_header'], $policy['max_age'], nonces: new MemoryNonceStore());
                return static fn () => $verifier->verify($request, $case['now']);
            })(),
            'rfc9421' => static fn () => (new Rfc9421($keys, $policy['account'], $policy['key_domain'], $policy['account_header'], $policy['scheme'], $policy['max_age']))->verify($request, $case['now']),
        };
        $outcomes = [];
        foreach ($case['expect'] as $_) {
            try {
                $verify();
                $outcomes[] = 'ok';
            } catch (VerificationException $refused) {
                $outcomes[] = $refused->reason;
            }
        }
        self::assertSame($case['expect'], $outcomes);
    }
}
