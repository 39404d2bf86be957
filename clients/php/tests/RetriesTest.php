<?php

declare(strict_types=1);

namespace Postbode\Tests;

use PHPUnit\Framework\TestCase;
use Postbode\ApiException;
use Postbode\Client;
use Postbode\Tests\support\PhpServer;
use Postbode\Tests\support\Service;

/**
 * Retries against the real service behind a proxy that answers the first calls itself
 * with 429, 502 or 503 and Retry-After: a fault the service only shows when its disk is
 * full, so the proxy stands in for the network between.
 */
final class RetriesTest extends TestCase
{
    private static ?Service $service = null;
    private PhpServer $proxy;

    public static function setUpBeforeClass(): void
    {
        self::$service = Service::start('php retry tests');
    }

    protected function setUp(): void
    {
        if (self::$service === null) {
            self::markTestSkipped('no running service: run bash clients/test.sh');
        }
        $this->proxy = new PhpServer(__DIR__ . '/support/proxy.php', 'PROXY_DIR', ['PROXY_UPSTREAM' => self::$service->url]);
    }

    protected function tearDown(): void
    {
        if (isset($this->proxy)) {
            $this->proxy->stop();
        }
    }

    /** @param list<array{0: int, 1: string}> $failures */
    private function flaky(array $failures, int $maxRetries = 2, float $maxRetryWait = 60.0): Client
    {
        file_put_contents($this->proxy->dir . '/failures', json_encode($failures));
        return new Client(self::$service->account['api_key'], $this->proxy->url, maxRetries: $maxRetries, maxRetryWait: $maxRetryWait);
    }

    /** @return list<float> when each request came to the proxy */
    private function seen(): array
    {
        return array_map('floatval', file($this->proxy->dir . '/seen', FILE_IGNORE_NEW_LINES) ?: []);
    }

    private static function refused(callable $call): ApiException
    {
        try {
            $call();
        } catch (ApiException $refused) {
            return $refused;
        }
        self::fail('the call was not refused');
    }

    public function testAGetIsRetriedAfterTheRetryAfterItWasGiven(): void
    {
        $client = $this->flaky([[503, '1']]);
        self::assertSame(self::$service->account['id'], $client->accounts->current()['id']);
        $seen = $this->seen();
        self::assertCount(2, $seen);
        self::assertGreaterThanOrEqual(1.0, $seen[1] - $seen[0], 'the retry waited the Retry-After of 1 s');
    }

    public function testAnEventWithAnIdempotencyKeyIsRetriedAndSentOnce(): void
    {
        $accepted = $this->flaky([[429, '0'], [502, '0']])->events->send('order.retried', ['n' => 1], 'retry-once');
        self::assertCount(3, $this->seen());
        self::assertSame('order.retried', self::$service->client->events->get($accepted['id'])['type']);
    }

    public function testACreateWithoutAnIdempotencyKeyIsNotRetried(): void
    {
        $client = $this->flaky([[503, '0']]);
        $refused = self::refused(fn () => $client->events->send('order.not-retried'));
        self::assertSame([503, 0.0], [$refused->status, $refused->retryAfter]);
        self::assertCount(1, $this->seen());
    }

    public function testARetryAfterLongerThanAllowedIsNotWaitedFor(): void
    {
        $client = $this->flaky([[429, '3600']], maxRetryWait: 5.0);
        $refused = self::refused(fn () => $client->accounts->current());
        self::assertSame([429, 3600.0], [$refused->status, $refused->retryAfter]);
        self::assertCount(1, $this->seen());
    }

    public function testRetriesStopAfterMaxRetries(): void
    {
        $client = $this->flaky([[503, '0'], [503, '0'], [503, '0']], maxRetries: 2);
        self::assertSame(503, self::refused(fn () => $client->accounts->current())->status);
        self::assertCount(3, $this->seen());
    }
}
