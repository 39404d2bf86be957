<?php

declare(strict_types=1);

namespace Postbode\Tests;

use PHPUnit\Framework\TestCase;
use Postbode\ApiException;
use Postbode\Client;
use Postbode\Operations;
use Postbode\Tests\support\Eventually;
use Postbode\Tests\support\Receiver;
use Postbode\Tests\support\Service;

/** Every operation of the client round-trips against the real service. */
final class ApiTest extends TestCase
{
    private static ?Service $service = null;
    private Client $client;
    private Receiver $receiver;

    public static function setUpBeforeClass(): void
    {
        self::$service = Service::start('php client tests');
    }

    protected function setUp(): void
    {
        if (self::$service === null) {
            self::markTestSkipped('no running service: run bash clients/test.sh');
        }
        $this->client = self::$service->client;
        $this->receiver = new Receiver();
    }

    protected function tearDown(): void
    {
        if (isset($this->receiver)) {
            $this->receiver->stop();
        }
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

    /** @param iterable<array<string, mixed>> $items */
    private static function ids(iterable $items): array
    {
        return array_column(iterator_to_array($items, false), 'id');
    }

    public function testEveryOperationTheClientCallsIsInTheServedDocument(): void
    {
        $document = json_decode((string) file_get_contents(self::$service->url . '/openapi.json'), true);
        $served = [];
        foreach ($document['paths'] as $path => $item) {
            foreach ($item as $method => $operation) {
                $served[$operation['operationId']] = [strtoupper($method), $path];
            }
        }
        foreach (Operations::ALL as $id => $operation) {
            self::assertSame($operation, $served[$id] ?? null, $id);
        }
    }

    public function testEventsOneWithAnIdempotencyKeyABatchAndGetWithDeliveries(): void
    {
        $hook = $this->client->webhooks->create($this->receiver->url, ['events' => ['order.paid']]);
        $accepted = $this->client->events->send('order.paid', ['order' => 42], 'order-42');
        self::assertSame(1, $accepted['deliveries']);
        self::assertSame($accepted['id'], $this->client->events->send('order.paid', ['order' => 42], 'order-42')['id']);
        self::assertSame(409, self::refused(fn () => $this->client->events->send('order.paid', ['order' => 43], 'order-42'))->status);
        $batch = $this->client->events->sendBatch([['type' => 'order.paid', 'data' => ['order' => 1]], ['type' => 'order.paid', 'data' => ['order' => 2]]]);
        self::assertCount(2, $batch['ids']);
        $orders = array_map(static fn (array $c): int => json_decode($c['body'], true)['data']['order'], $this->receiver->waitFor(3));
        sort($orders);
        self::assertSame([1, 2, 42], $orders);
        $event = Eventually::value('the delivery', function () use ($accepted) {
            $event = $this->client->events->get($accepted['id']);
            return $event['deliveries'][0]['status'] === 'delivered' ? $event : null;
        });
        self::assertSame(['order' => 42], $event['body']['data']);
        self::assertSame($hook['id'], $this->client->deliveries->get($event['deliveries'][0]['id'])['webhook_id']);
        $this->client->webhooks->delete($hook['id']);
    }

    public function testABadBatchNamesTheFieldByItsFullPath(): void
    {
        $refused = self::refused(fn () => $this->client->events->sendBatch([['type' => 'order.paid'], ['data' => []]]));
        self::assertSame(422, $refused->status);
        self::assertArrayHasKey('events[1].type', $refused->getFieldErrors());
    }

    public function testWebhooksCreateListEveryPageGetUpdateDelete(): void
    {
        $created = [];
        foreach ([0, 1, 2] as $n) {
            $created[] = $this->client->webhooks->create("{$this->receiver->url}?n={$n}", ['description' => 'page test']);
        }
        self::assertStringStartsWith('whsec_', $created[0]['secret']);
        $listed = array_filter(iterator_to_array($this->client->webhooks->list(['limit' => 1]), false), static fn ($w) => $w['description'] === 'page test');
        self::assertSame(array_column($created, 'id'), array_column($listed, 'id'));
        self::assertArrayNotHasKey('secret', $this->client->webhooks->get($created[0]['id']));
        $updated = $this->client->webhooks->update($created[0]['id'], ['description' => 'changed', 'max_concurrency' => 4]);
        self::assertSame(['changed', 4, $created[0]['url']], [$updated['description'], $updated['max_concurrency'], $updated['url']]);
        foreach ($created as $hook) {
            $this->client->webhooks->delete($hook['id']);
        }
        self::assertTrue(self::refused(fn () => $this->client->webhooks->get($created[0]['id']))->isNotFound());
    }

    public function testWebhooksVerifyTestSecretsCheckAttemptsExportAndStats(): void
    {
        $hook = $this->client->webhooks->create($this->receiver->url);
        $this->receiver->serve('/hooks/' . $hook['verification']['file_name'], $this->client->webhooks->verificationFile($hook['id']));
        self::assertSame('verified', $this->client->webhooks->verify($hook['id'])['status']);
        $report = $this->client->webhooks->test($hook['id'], ['type' => 'order.paid', 'data' => ['order' => 7]]);
        self::assertSame(200, $report['status_code']);
        self::assertSame(['order' => 7], json_decode($this->receiver->waitFor(1)[0]['body'], true)['data']);
        $rotated = $this->client->webhooks->rotateSecret($hook['id']);
        $shown = $this->client->webhooks->secret($hook['id']);
        self::assertSame([$rotated['secret'], $hook['secret']], [$shown['secret'], $shown['previous_secret']]);
        $checked = array_filter($this->client->webhooks->checkAll()['data'], static fn ($line) => $line['webhook_id'] === $hook['id'] && $line['ok']);
        self::assertCount(1, $checked);
        $attempts = iterator_to_array($this->client->webhooks->attempts($hook['id']), false);
        self::assertSame('test', $attempts[0]['trigger']);
        self::assertStringStartsWith('id,', $this->client->webhooks->exportAttempts($hook['id'], 'csv'));
        self::assertNotSame('', trim($this->client->webhooks->exportAttempts($hook['id'], 'jsonl')));
        $stats = $this->client->webhooks->stats($hook['id'], ['bucket' => 'hour']);
        self::assertSame([$hook['id'], 'hour'], [$stats['webhook_id'], $stats['bucket']]);
        $this->client->webhooks->delete($hook['id']);
    }

    public function testAFailedDeliveryIsResentAndRecovered(): void
    {
        $this->receiver->answerWith([500, 500]);
        $hook = $this->client->webhooks->create($this->receiver->url, ['events' => ['order.failed']]);
        $since = new \DateTimeImmutable('-1 minute');
        $event = $this->client->events->send('order.failed', ['order' => 1]);
        $this->receiver->waitFor(1);
        $delivery = Eventually::value('the first attempt to fail', function () use ($hook) {
            foreach ($this->client->webhooks->deliveries($hook['id']) as $delivery) {
                if ($delivery['attempts'] === 1) {
                    return $delivery;
                }
            }
            return null;
        });
        self::assertSame([$event['id'], 500], [$delivery['event_id'], $delivery['last_status_code']]);
        self::assertSame($delivery['id'], $this->client->deliveries->resend($delivery['id'])['id']);
        $this->receiver->waitFor(2);
        Eventually::value('the resent attempt', fn () => $this->client->deliveries->get($delivery['id'])['attempts'] === 2);
        self::assertSame(1, $this->client->webhooks->recover($hook['id'], $since)['deliveries']);
        $this->receiver->waitFor(3);
        Eventually::value('the recovered delivery', fn () => $this->client->deliveries->get($delivery['id'])['status'] === 'delivered');
        self::assertSame([$delivery['id']], self::ids($this->client->webhooks->deliveries($hook['id'], ['status' => 'delivered'])));
        $this->client->webhooks->delete($hook['id']);
    }

    public function testDatabasesCollectionsProfilesSubprofilesImportAndErasure(): void
    {
        $c = $this->client;
        $database = $c->databases->create('customers', [['name' => 'email', 'type' => 'email'], ['name' => 'age', 'type' => 'integer']]);
        self::assertContains($database['id'], self::ids($c->databases->list()));
        self::assertSame('clients', $c->databases->update($database['id'], ['name' => 'clients'])['name']);
        self::assertSame('clients', $c->databases->get($database['id'])['name']);
        $collection = $c->collections->create($database['id'], 'orders', [['name' => 'total', 'type' => 'float']]);
        self::assertSame([$collection['id']], self::ids($c->collections->list($database['id'])));
        self::assertSame('purchases', $c->collections->update($collection['id'], ['name' => 'purchases'])['name']);
        self::assertSame('purchases', $c->collections->get($collection['id'])['name']);

        $profile = $c->profiles->create($database['id'], ['email' => 'piet@example.com', 'age' => 31], ['news']);
        self::assertSame(1, $profile['sequence']);
        self::assertSame([$profile['id']], self::ids($c->profiles->list($database['id'], ['email' => 'piet@example.com'])));
        self::assertSame(32, $c->profiles->update($profile['id'], ['age' => 32])['fields']['age']);
        self::assertNull($c->profiles->replace($profile['id'], ['email' => 'piet@example.com'])['fields']['age']);
        self::assertSame(3, $c->profiles->get($profile['id'])['sequence']);
        $sub = $c->subprofiles->create($profile['id'], $collection['id'], ['total' => 9.5]);
        self::assertSame([$sub['id']], self::ids($c->subprofiles->list($profile['id'])));
        self::assertEquals(10.0, $c->subprofiles->update($sub['id'], ['total' => 10.0])['fields']['total']);
        self::assertNull($c->subprofiles->replace($sub['id'], [])['fields']['total']);
        self::assertSame($collection['id'], $c->subprofiles->get($sub['id'])['collection_id']);
        $c->subprofiles->delete($sub['id']);

        $summary = $c->databases->importProfiles($database['id'], "email,age\nkees@example.com,40\nbad,x\n", 'text/csv', 'email');
        self::assertSame([1, 1], [$summary['created'], $summary['rejected_count']]);
        [$kees] = iterator_to_array($c->profiles->list($database['id'], ['email' => 'kees@example.com']), false);
        $c->profiles->delete($kees['id']);
        self::assertTrue(self::refused(fn () => $c->profiles->get($kees['id']))->isNotFound());
        $erased = $c->profiles->erase($profile['id']);
        self::assertSame($profile['id'], $erased['profile_id']);
        self::assertGreaterThanOrEqual(3, $erased['erased']['events']);
        $c->collections->delete($collection['id']);
        $c->databases->delete($database['id']);
        self::assertTrue(self::refused(fn () => $c->databases->get($database['id']))->isNotFound());
    }

    public function testMessagesLinksAndEveryReport(): void
    {
        $hook = $this->client->webhooks->create($this->receiver->url, ['events' => ['delivery', 'bounce', 'failure', 'abuse', 'unsubscribe']]);
        $message = $this->client->messages->create(['id' => 'spring-2026', 'tags' => ['spring']], 'piet@example.com');
        self::assertStringStartsWith('http', $message['open_url']);
        self::assertStringContainsString('/t/c/', $this->client->messages->link($message['id'], 'https://shop.example.com/sale')['click_url']);
        $reports = [
            $this->client->messages->reportDelivery($message['id'], 250, ['extended' => '2.0.0']),
            $this->client->messages->reportBounce($message['id'], ['envelope' => 'bounces@example.com']),
            $this->client->messages->reportFailure($message['id'], 'rcpt', 550, ['extended' => '5.1.1', 'description' => 'User unknown']),
            $this->client->messages->reportAbuse($message['id'], ['emailfrom' => 'piet@example.com']),
            $this->client->messages->reportUnsubscribe($message['id']),
        ];
        self::assertSame([1, 1, 1, 1, 1], array_column($reports, 'deliveries'));
        $types = array_map(static fn (array $c): string => json_decode($c['body'], true)['type'], $this->receiver->waitFor(5));
        sort($types);
        self::assertSame(['abuse', 'bounce', 'delivery', 'failure', 'unsubscribe'], $types);
        $this->client->webhooks->delete($hook['id']);
    }

    public function testDomains(): void
    {
        $domain = $this->client->domains->create('shop.php.example.com');
        self::assertSame('TXT', $domain['record']['type']);
        self::assertSame([$domain['id']], self::ids($this->client->domains->list()));
        self::assertSame($domain['domain'], $this->client->domains->get($domain['id'])['domain']);
        self::assertSame('pending', $this->client->domains->validate($domain['id'])['status']);
        $this->client->domains->delete($domain['id']);
        self::assertTrue(self::refused(fn () => $this->client->domains->get($domain['id']))->isNotFound());
    }

    public function testAccountsAndKeysWithTheOperatorToken(): void
    {
        $operator = self::$service->operator;
        $account = self::$service->account;
        self::assertContains($account['id'], self::ids($operator->accounts->list(['limit' => 1])));
        $key = $operator->accounts->createKey($account['id']);
        $second = new Client($key['api_key'], self::$service->url);
        self::assertSame($account['id'], $second->accounts->current()['id']);
        $operator->accounts->deleteKey($account['id'], $key['id']);
        self::assertSame(401, self::refused(fn () => $second->accounts->current())->status);
    }

    public function testAScopedKeySendsEventsAndNothingElse(): void
    {
        $operator = self::$service->operator;
        $account = self::$service->account;
        $key = $operator->accounts->createKey($account['id'], 'shop', ['events:write']);
        self::assertSame(['shop', ['events:write']], [$key['name'], $key['scopes']]);
        $sender = new Client($key['api_key'], self::$service->url);
        $sender->events->send('order.paid', ['total' => 1]);
        $refused = self::refused(fn () => iterator_to_array($sender->webhooks->list(), false));
        self::assertSame(403, $refused->status);
        self::assertStringContainsString('webhooks:read', $refused->getMessage());
        $listed = array_values(array_filter($operator->accounts->listKeys($account['id']), static fn ($k) => $k['id'] === $key['id']));
        self::assertSame(['shop', ['events:write']], [$listed[0]['name'], $listed[0]['scopes']]);
        $operator->accounts->deleteKey($account['id'], $key['id']);
    }

    public function testSigningKeys(): void
    {
        $operator = self::$service->operator;
        $listed = $operator->signingKeys->list();
        $keySet = $this->client->signingKeys->keySet();
        self::assertEqualsCanonicalizing(array_column($listed['data'], 'key_id'), array_column($keySet['keys'], 'key_id'));
        self::assertEqualsCanonicalizing(['rsa-sha256', 'ed25519'], array_values(array_unique(array_column($keySet['keys'], 'algorithm'))));
        // A rotation publishes a next key per algorithm (once: while one waits, it is the one).
        $rotated = $operator->signingKeys->rotate()['data'];
        $next = array_filter($rotated, static fn (array $k): bool => $k['state'] === 'next');
        self::assertEqualsCanonicalizing(array_values(array_unique(array_column($listed['data'], 'algorithm'))), array_column($next, 'algorithm'));
        $active = array_filter($listed['data'], static fn (array $k): bool => $k['state'] === 'active');
        self::assertSame([], array_diff(array_column($active, 'key_id'), array_column($rotated, 'key_id')));
    }

    public function testAProblemDocumentNamesEachBadField(): void
    {
        $refused = self::refused(fn () => $this->client->webhooks->create('http://127.0.0.1:9/hooks', ['max_concurrency' => 'many', 'rate_limit' => ['per_second' => 'fast']]));
        self::assertSame('/problems/validation', $refused->getType());
        self::assertArrayHasKey('max_concurrency', $refused->getFieldErrors());
        self::assertArrayHasKey('rate_limit.per_second', $refused->getFieldErrors());
    }

    public function testAWrongTokenIsUnauthorized(): void
    {
        self::assertSame(401, self::refused(fn () => (new Client('pb_wrong', self::$service->url))->accounts->current())->status);
    }
}
