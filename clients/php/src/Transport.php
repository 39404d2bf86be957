<?php

declare(strict_types=1);

namespace Postbode;

use Postbode\Http\CurlClient;
use Postbode\Http\HttpClient;
use Postbode\Http\HttpResponse;

/**
 * One HTTP exchange with the API, retried where that is safe: the only place that sends
 * requests, builds URLs, reads problem documents and waits between attempts.
 *
 * @internal
 */
final class Transport
{
    /** Answers worth another try: the service asks for patience or a proxy lost it. */
    private const RETRY_STATUSES = [429, 502, 503, 504];
    /** Methods whose repetition has the effect of one request. */
    private const IDEMPOTENT_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE'];

    private readonly string $baseUrl;
    private readonly HttpClient $http;

    public function __construct(
        private readonly string $token,
        string $baseUrl,
        private readonly float $timeout,
        private readonly int $maxRetries,
        private readonly float $maxRetryWait,
        ?HttpClient $http,
    ) {
        $this->baseUrl = rtrim($baseUrl, '/');
        $this->http = $http ?? new CurlClient();
    }

    /**
     * Sends $operation. It is tried again on 429, 502, 503, 504 and lost connections when
     * repeating it is safe: its method is idempotent, or $idempotent says the request
     * carries an idempotency key.
     *
     * @param array<string, string> $path
     * @param array<string, scalar|\DateTimeInterface|null> $query
     * @param array<string, string> $headers
     */
    public function call(
        string $operation,
        array $path = [],
        array $query = [],
        mixed $json = null,
        ?string $body = null,
        ?string $contentType = null,
        array $headers = [],
        bool $idempotent = false,
    ): HttpResponse {
        [$method, $template] = Operations::ALL[$operation];
        $url = $this->baseUrl . preg_replace_callback(
            '/\{(\w+)\}/',
            static fn (array $m): string => rawurlencode($path[$m[1]] ?? throw new \InvalidArgumentException("{$operation}: no {$m[1]}")),
            $template,
        );
        $pairs = [];
        foreach ($query as $name => $value) {
            if ($value !== null) {
                $pairs[] = rawurlencode($name) . '=' . rawurlencode(self::queryValue($value));
            }
        }
        if ($pairs !== []) {
            $url .= '?' . implode('&', $pairs);
        }
        $sent = [
            'Authorization' => 'Bearer ' . $this->token,
            'Accept' => 'application/json',
            'User-Agent' => 'postbode-php/' . Version::VERSION,
        ];
        if ($json !== null) {
            $body = json_encode($json, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION);
            $contentType = 'application/json';
        }
        if ($contentType !== null) {
            $sent['Content-Type'] = $contentType;
        }
        $sent = array_merge($sent, $headers);
        $retry = $idempotent || in_array($method, self::IDEMPOTENT_METHODS, true);

        for ($attempt = 0; ; $attempt++) {
            try {
                $answer = $this->http->send($method, $url, $sent, $body, $this->timeout);
            } catch (\RuntimeException $failure) {
                if ($retry && $attempt < $this->maxRetries) {
                    self::sleep(self::backoff($attempt));
                    continue;
                }
                throw new ConnectionException("{$method} {$url}: {$failure->getMessage()}", 0, $failure);
            }
            if ($answer->status >= 200 && $answer->status < 300) {
                return $answer;
            }
            $wait = self::retryAfter($answer->header('Retry-After'));
            if ($retry && in_array($answer->status, self::RETRY_STATUSES, true) && $attempt < $this->maxRetries) {
                $delay = $wait ?? self::backoff($attempt);
                if ($delay <= $this->maxRetryWait) {
                    self::sleep($delay);
                    continue;
                }
            }
            throw self::problem($answer, $wait);
        }
    }

    /**
     * The answer's JSON as arrays.
     *
     * @param array<string, string> $path
     * @param array<string, mixed> $options the other arguments of call()
     */
    public function json(string $operation, array $path = [], array $options = []): mixed
    {
        $answer = $this->call($operation, $path, ...$options);
        return $answer->body === '' ? null : json_decode($answer->body, true, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * Every item of a list, page after page ('limit' in $query sets the page size).
     *
     * @param array<string, string> $path
     * @param array<string, mixed> $query
     * @return \Generator<int, array<string, mixed>>
     */
    public function pages(string $operation, array $path = [], array $query = []): \Generator
    {
        while (true) {
            $page = $this->json($operation, $path, ['query' => $query]);
            yield from $page['data'];
            if (($page['next_cursor'] ?? null) === null) {
                return;
            }
            $query['cursor'] = $page['next_cursor'];
        }
    }

    public static function queryValue(mixed $value): string
    {
        return match (true) {
            $value instanceof \DateTimeInterface => \DateTimeImmutable::createFromInterface($value)
                ->setTimezone(new \DateTimeZone('UTC'))->format('Y-m-d\TH:i:s.u\Z'),
            is_bool($value) => $value ? 'true' : 'false',
            default => (string) $value,
        };
    }

    /** Retry-After in seconds from now: a number of seconds or an HTTP date. */
    private static function retryAfter(?string $value): ?float
    {
        if ($value === null || trim($value) === '') {
            return null;
        }
        $value = trim($value);
        if (ctype_digit($value)) {
            return (float) $value;
        }
        $when = strtotime($value);
        return $when === false ? null : max(0.0, (float) ($when - time()));
    }

    /** Exponential with full jitter, so many clients do not come back in step. */
    private static function backoff(int $attempt): float
    {
        return (0.5 + mt_rand() / mt_getrandmax() * 0.5) * min(8.0, 0.5 * 2 ** $attempt);
    }

    private static function sleep(float $seconds): void
    {
        usleep((int) ($seconds * 1_000_000));
    }

    private static function problem(HttpResponse $answer, ?float $retryAfter): ApiException
    {
        $problem = json_decode($answer->body, true);
        if (!is_array($problem)) {
            $problem = ['title' => "HTTP {$answer->status}", 'detail' => substr($answer->body, 0, 500)];
        }
        return new ApiException($answer->status, $problem, $retryAfter);
    }
}
