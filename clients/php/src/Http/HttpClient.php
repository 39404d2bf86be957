<?php

declare(strict_types=1);

namespace Postbode\Http;

/**
 * Sends one HTTP request. CurlClient is the default; wrap a PSR-18 client in a class of
 * a few lines to use yours. Throws \RuntimeException when no answer came.
 */
interface HttpClient
{
    /** @param array<string, string> $headers */
    public function send(string $method, string $url, array $headers, ?string $body, float $timeout): HttpResponse;
}
