<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/** A call as received: method, path and query, headers, raw body. */
final class Request
{
    /** @var list<array{0: string, 1: string}> */
    private readonly array $pairs;
    public readonly string $target;

    /**
     * @param string $target the path and query as requested ($_SERVER['REQUEST_URI']), or the full URL
     * @param array<string, string|list<string>>|list<array{0: string, 1: string}> $headers
     *        by name (getallheaders(), a PSR-7 getHeaders()) or as [name, value] pairs
     * @param string $body the raw body (file_get_contents('php://input')), before any parsing
     */
    public function __construct(
        public readonly string $method,
        string $target,
        array $headers,
        public readonly string $body,
    ) {
        $this->target = self::originForm($target);
        $pairs = [];
        foreach ($headers as $name => $value) {
            if (is_int($name) && is_array($value) && count($value) === 2 && array_is_list($value)) {
                $pairs[] = [(string) $value[0], (string) $value[1]];
            } else {
                foreach ((array) $value as $one) {
                    $pairs[] = [(string) $name, (string) $one];
                }
            }
        }
        $this->pairs = $pairs;
    }

    /**
     * The call this PHP script is answering: $_SERVER's method and URI, its headers and
     * the raw body from php://input.
     */
    public static function fromGlobals(): self
    {
        $headers = function_exists('getallheaders') ? getallheaders() : [];
        if ($headers === [] || $headers === false) {
            $headers = [];
            foreach ($_SERVER as $key => $value) {
                if (str_starts_with($key, 'HTTP_')) {
                    $headers[str_replace('_', '-', substr($key, 5))] = (string) $value;
                } elseif (in_array($key, ['CONTENT_TYPE', 'CONTENT_LENGTH'], true)) {
                    $headers[str_replace('_', '-', $key)] = (string) $value;
                }
            }
        }
        return new self(
            (string) ($_SERVER['REQUEST_METHOD'] ?? 'POST'),
            (string) ($_SERVER['REQUEST_URI'] ?? '/'),
            $headers,
            (string) file_get_contents('php://input'),
        );
    }

    /** A PSR-7 request (duck-typed: getMethod, getRequestTarget, getHeaders, getBody). */
    public static function fromPsr7(object $request): self
    {
        $body = $request->getBody();
        $text = (string) $body;
        if ($body->isSeekable()) {
            $body->rewind();
        }
        return new self($request->getMethod(), $request->getRequestTarget(), $request->getHeaders(), $text);
    }

    /** Every field of that name, trimmed, joined by ', ' in order; null when absent. */
    public function header(string $name): ?string
    {
        $wanted = strtolower(trim($name));
        $values = [];
        foreach ($this->pairs as [$n, $v]) {
            if (strtolower(trim($n)) === $wanted) {
                $values[] = trim($v);
            }
        }
        return $values === [] ? null : implode(', ', $values);
    }

    public function required(string $name): string
    {
        return $this->header($name)
            ?? throw new VerificationException('missing_header', 'the ' . strtolower($name) . ' header is missing');
    }

    /** @return list<array{0: string, 1: string}> */
    public function headerPairs(): array
    {
        return $this->pairs;
    }

    private static function originForm(string $target): string
    {
        $at = strpos($target, '://');
        if ($at === false) {
            return $target;
        }
        $slash = strpos($target, '/', $at + 3);
        return $slash === false ? '/' : substr($target, $slash);
    }
}
