<?php

declare(strict_types=1);

namespace Postbode\Tests\support;

use PHPUnit\Framework\TestCase;
use Postbode\Client;

/** The running service (started by clients/test.sh) and an account of a test class's own. */
final class Service
{
    public function __construct(
        public readonly string $url,
        public readonly Client $operator,
        public readonly array $account,
        public readonly Client $client,
    ) {
    }

    public static function start(string $name): ?self
    {
        $url = getenv('POSTBODE_TEST_URL');
        if ($url === false || $url === '') {
            if (getenv('CI') === 'true') {
                TestCase::fail('POSTBODE_TEST_URL is not set: run bash clients/test.sh');
            }
            return null;
        }
        $operator = new Client((string) getenv('POSTBODE_TEST_ADMIN_TOKEN'), $url);
        $account = $operator->accounts->create($name);
        return new self($url, $operator, $account, new Client($account['api_key'], $url));
    }
}
