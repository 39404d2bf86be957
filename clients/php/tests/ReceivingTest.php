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
use Postbode\Tests\support\Dns;
use Postbode\Tests\support\Receiver;
use Postbode\Tests\support\Service;

/**
 * Each verifier accepts the service's real calls, in every format and with the keys from
 * the key set or from DNS, and refuses them once anything is changed. The receiver is
 * PHP's own built-in server, as a receiver in the suite's world is a PHP script.
 */
final class ReceivingTest extends TestCase
{
    private const FORMATS = ['json', 'form', 'xml'];
    private const SCHEMES = ['http-signature', 'rfc9421'];

    private static ?Service $service = null;
    /** @var array<string, array> */
    private static array $calls = [];
    /** @var array<string, array> */
    private static array $hooks = [];

    public static function setUpBeforeClass(): void
    {
        self::$service = Service::start('php receiving tests');
        if (self::$service === null) {
            return;
        }
        $receiver = new Receiver();
        try {
            foreach (self::FORMATS as $format) {
                foreach (self::SCHEMES as $scheme) {
                    self::$hooks["{$format} {$scheme}"] = self::$service->client->webhooks->create(
                        "{$receiver->url}?format={$format}&scheme={$scheme}",
                        ['events' => ['order.signed'], 'format' => $format, 'signatures' => ['standard-webhooks', $scheme]],
                    );
                }
            }
            self::$service->client->events->send('order.signed', ['order' => 42, 'paid' => true, 'tags' => ['a', 'b']]);
            foreach ($receiver->waitFor(count(self::$hooks)) as $call) {
                parse_str((string) parse_url($call['target'], PHP_URL_QUERY), $query);
                self::$calls["{$query['format']} {$query['scheme']}"] = $call;
            }
        } finally {
            $receiver->stop();
        }
    }

    public static function tearDownAfterClass(): void
    {
        @unlink(self::keyCacheFile());
    }

    protected function setUp(): void
    {
        if (self::$service === null) {
            self::markTestSkipped('no running service: run bash clients/test.sh');
        }
    }

    private static function keyCacheFile(): string
    {
        return sys_get_temp_dir() . '/postbode-php-test-keys-' . getmypid() . '.json';
    }

    /** @return iterable<string, array{0: string, 1: string}> */
    public static function formatsAndSchemes(): iterable
    {
        foreach (self::FORMATS as $format) {
            foreach (self::SCHEMES as $scheme) {
                yield "{$format} {$scheme}" => [$format, $scheme];
            }
        }
    }

    private static function keySet(): PublishedKeys
    {
        return PublishedKeys::fromUrl(self::$service->url . '/.well-known/postbode/keys', cacheFile: self::keyCacheFile());
    }

    private static function verifier(string $scheme, PublishedKeys $keys, ?string $account = null): HttpSignature|Rfc9421
    {
        $account ??= self::$service->account['id'];
        $domain = (string) getenv('POSTBODE_TEST_KEY_DOMAIN');
        // The receiver is reached at http://127.0.0.1: the scheme Postbode called is signed.
        return $scheme === 'http-signature'
            ? new HttpSignature($keys, $account, $domain, nonces: new MemoryNonceStore())
            : new Rfc9421($keys, $account, $domain, scheme: 'http');
    }

    private static function request(array $call, ?string $body = null, array $headers = []): Request
    {
        $pairs = array_values(array_filter($call['headers'], static fn (array $p): bool => !array_key_exists(strtolower($p[0]), $headers)));
        foreach ($headers as $name => $value) {
            $pairs[] = [$name, $value];
        }
        return new Request($call['method'], $call['target'], $pairs, $body ?? $call['body']);
    }

    private static function reason(callable $verify): string
    {
        try {
            $verify();
        } catch (VerificationException $refused) {
            return $refused->reason;
        }
        self::fail('the call was accepted');
    }

    /** @dataProvider formatsAndSchemes */
    public function testARealCallVerifiesWithTheKeySetDnsAndStandardWebhooks(string $format, string $scheme): void
    {
        $call = self::$calls["{$format} {$scheme}"];
        $verified = self::verifier($scheme, self::keySet())->verify(self::request($call));
        self::assertSame($scheme === 'http-signature' ? 'rsa-sha256' : 'ed25519', $verified->algorithm);
        $dns = PublishedKeys::fromDns(Dns::resolver((string) getenv('POSTBODE_TEST_DNS')));
        self::verifier($scheme, $dns)->verify(self::request($call));
        (new StandardWebhooks(self::$hooks["{$format} {$scheme}"]['secret']))->verify($call['headers'], $call['body']);
    }

    /**
     * @testWith ["http-signature"]
     *           ["rfc9421"]
     */
    public function testAChangedBodyHeaderOldCallWrongKeyAndAnotherAccountAreRefused(string $scheme): void
    {
        $call = self::$calls["json {$scheme}"];
        $keys = self::keySet();
        $changed = str_replace('"order":42', '"order":43', $call['body']);
        self::assertSame('digest_mismatch', self::reason(fn () => self::verifier($scheme, $keys)->verify(self::request($call, $changed))));
        $retyped = self::request($call, null, ['content-type' => 'text/plain']);
        self::assertSame('bad_signature', self::reason(fn () => self::verifier($scheme, $keys)->verify($retyped)));
        self::assertSame('stale', self::reason(fn () => self::verifier($scheme, $keys)->verify(self::request($call), time() + 120)));
        $vectors = json_decode((string) file_get_contents(__DIR__ . '/../../testdata/signature-vectors.json'), true);
        $algorithm = $scheme === 'http-signature' ? 'rsa-sha256' : 'ed25519';
        $other = PublishedKeys::parseKeySet($vectors['key_set']);
        $otherKey = array_values(array_filter($other, static fn ($k) => $k->algorithm === $algorithm))[0];
        $wrongKey = new PublishedKeys(static fn (string $keyId) => $otherKey);
        self::assertSame('bad_signature', self::reason(fn () => self::verifier($scheme, $wrongKey)->verify(self::request($call))));
        self::assertSame('wrong_account', self::reason(fn () => self::verifier($scheme, $keys, 'acc_someone_else')->verify(self::request($call))));
    }

    public function testAReplayedCallIsRefused(): void
    {
        $verifier = self::verifier('http-signature', self::keySet());
        $call = self::request(self::$calls['form http-signature']);
        $verifier->verify($call);
        self::assertSame('replayed_nonce', self::reason(fn () => $verifier->verify($call)));
    }

    public function testTheDefaultNonceStoreSeesAReplayAcrossProcesses(): void
    {
        $call = self::$calls['xml http-signature'];
        $directory = sys_get_temp_dir() . '/postbode-php-test-nonces-' . bin2hex(random_bytes(4));
        $keys = self::keySet();
        $domain = (string) getenv('POSTBODE_TEST_KEY_DOMAIN');
        $account = self::$service->account['id'];
        // Two verifiers stand for two PHP requests: each starts with nothing in memory.
        (new HttpSignature($keys, $account, $domain, nonces: new \Postbode\Signatures\FileNonceStore($directory)))->verify(self::request($call));
        $second = new HttpSignature($keys, $account, $domain, nonces: new \Postbode\Signatures\FileNonceStore($directory));
        self::assertSame('replayed_nonce', self::reason(fn () => $second->verify(self::request($call))));
        array_map('unlink', glob("{$directory}/*") ?: []);
        rmdir($directory);
    }

    public function testStandardWebhooksRefusesAChangedBodyIdOldTimestampAndAnotherSecret(): void
    {
        $call = self::$calls['xml rfc9421'];
        $hook = new StandardWebhooks(self::$hooks['xml rfc9421']['secret']);
        self::assertSame('bad_signature', self::reason(fn () => $hook->verify($call['headers'], $call['body'] . ' ')));
        $otherId = self::request($call, null, ['webhook-id' => 'dlv_other'])->headerPairs();
        self::assertSame('bad_signature', self::reason(fn () => $hook->verify($otherId, $call['body'])));
        $sentAt = (int) self::request($call)->header('webhook-timestamp');
        self::assertSame('stale', self::reason(fn () => $hook->verify($call['headers'], $call['body'], $sentAt + 301)));
        $other = new StandardWebhooks(self::$hooks['json rfc9421']['secret']);
        self::assertSame('bad_signature', self::reason(fn () => $other->verify($call['headers'], $call['body'])));
    }
}
