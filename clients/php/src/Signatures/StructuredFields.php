<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/**
 * The part of Structured Field Values (RFC 8941) that RFC 9421's headers use:
 * dictionaries of items and inner lists with parameters, parsed strictly and serialised
 * canonically (the signature base holds the re-serialised @signature-params).
 *
 * Bare items are: int, string (['string', ...]), token (['token', ...]), byte sequence
 * (['bytes', ...]), bool, decimal (['decimal', thousandths]) — tagged arrays keep the
 * kinds PHP's scalars would merge apart.
 *
 * @internal
 */
final class StructuredFields
{
    private int $pos = 0;
    private readonly string $text;

    private function __construct(string $text)
    {
        $this->text = trim($text, ' ');
    }

    /**
     * A dictionary's members in order: [key, member], where a member is
     * ['item', value, params] or ['list', items, params]; a duplicate key is refused.
     *
     * @return list<array{0: string, 1: array}>
     */
    public static function parseDictionary(string $text): array
    {
        if (strlen($text) > 16 * 1024) {
            throw self::bad('too long');
        }
        $parser = new self($text);
        $members = [];
        $keys = [];
        if ($parser->peek() === '') {
            return $members;
        }
        while (true) {
            $key = $parser->key();
            $member = $parser->eat('=') ? $parser->member() : ['item', true, $parser->params()];
            if (isset($keys[$key])) {
                throw self::bad("duplicate key {$key}");
            }
            $keys[$key] = true;
            $members[] = [$key, $member];
            $parser->skip(" \t");
            if ($parser->peek() === '') {
                return $members;
            }
            if (!$parser->eat(',')) {
                throw self::bad('expected a comma');
            }
            $parser->skip(" \t");
            if ($parser->peek() === '') {
                throw self::bad('trailing comma');
            }
        }
    }

    /** @param list<array{0: mixed, 1: array}> $items @param list<array{0: string, 1: mixed}> $params */
    public static function serializeInnerList(array $items, array $params): string
    {
        $parts = array_map(static fn (array $i): string => self::bare($i[0]) . self::serializeParams($i[1]), $items);
        return '(' . implode(' ', $parts) . ')' . self::serializeParams($params);
    }

    public static function isString(mixed $value): bool
    {
        return is_array($value) && $value[0] === 'string';
    }

    public static function isBytes(mixed $value): bool
    {
        return is_array($value) && $value[0] === 'bytes';
    }

    private static function bad(string $why): VerificationException
    {
        return VerificationException::malformed("structured field: {$why}");
    }

    private function peek(): string
    {
        return $this->text[$this->pos] ?? '';
    }

    private function eat(string $char): bool
    {
        if ($this->peek() !== $char) {
            return false;
        }
        $this->pos++;
        return true;
    }

    private function skip(string $chars): void
    {
        while ($this->peek() !== '' && str_contains($chars, $this->peek())) {
            $this->pos++;
        }
    }

    private function match(string $pattern): ?string
    {
        if (preg_match($pattern . 'A', $this->text, $found, 0, $this->pos) !== 1) {
            return null;
        }
        $this->pos += strlen($found[0]);
        return $found[0];
    }

    private function key(): string
    {
        return $this->match('/[a-z*][a-z0-9_\-.*]*/') ?? throw self::bad('a key must start with a-z or *');
    }

    /** @return list<array{0: string, 1: mixed}> */
    private function params(): array
    {
        $params = [];
        while ($this->eat(';')) {
            $this->skip(' ');
            $key = $this->key();
            $value = $this->eat('=') ? $this->bareItem() : true;
            foreach ($params as [$existing]) {
                if ($existing === $key) {
                    throw self::bad("duplicate parameter {$key}");
                }
            }
            $params[] = [$key, $value];
        }
        return $params;
    }

    private function member(): array
    {
        if (!$this->eat('(')) {
            $value = $this->bareItem();
            return ['item', $value, $this->params()];
        }
        $items = [];
        while (true) {
            $this->skip(' ');
            if ($this->eat(')')) {
                return ['list', $items, $this->params()];
            }
            $value = $this->bareItem();
            $items[] = [$value, $this->params()];
            if ($this->peek() !== ' ' && $this->peek() !== ')') {
                throw self::bad('bad inner list');
            }
        }
    }

    private function bareItem(): mixed
    {
        $char = $this->peek();
        if ($char === '-' || ($char !== '' && ctype_digit($char))) {
            $number = $this->match('/-?[0-9]+(\.[0-9]*)?/') ?? throw self::bad('a number needs digits');
            $negative = $number[0] === '-';
            $parts = explode('.', ltrim($number, '-'));
            $sign = $negative ? -1 : 1;
            if (count($parts) === 1) {
                if (strlen($parts[0]) > 15) {
                    throw self::bad('integer too long');
                }
                return $sign * (int) $parts[0];
            }
            if (strlen($parts[0]) > 12 || $parts[1] === '' || strlen($parts[1]) > 3) {
                throw self::bad('bad decimal');
            }
            return ['decimal', $sign * (int) ($parts[0] . str_pad($parts[1], 3, '0'))];
        }
        if ($char === '"') {
            $this->pos++;
            $out = '';
            while (true) {
                $c = $this->peek();
                if ($c === '') {
                    throw self::bad('unterminated string');
                }
                $this->pos++;
                if ($c === '"') {
                    return ['string', $out];
                }
                if ($c === '\\') {
                    $escaped = $this->peek();
                    if ($escaped !== '"' && $escaped !== '\\') {
                        throw self::bad('bad escape');
                    }
                    $out .= $escaped;
                    $this->pos++;
                } elseif (ord($c) >= 0x20 && ord($c) <= 0x7e) {
                    $out .= $c;
                } else {
                    throw self::bad('bad character in string');
                }
            }
        }
        if ($char === ':') {
            $end = strpos($this->text, ':', $this->pos + 1);
            if ($end === false) {
                throw self::bad('unterminated byte sequence');
            }
            $encoded = substr($this->text, $this->pos + 1, $end - $this->pos - 1);
            $this->pos = $end + 1;
            $decoded = base64_decode($encoded, true);
            if ($decoded === false || preg_match('/^[A-Za-z0-9+\/=]*$/', $encoded) !== 1) {
                throw self::bad('byte sequence is not base64');
            }
            return ['bytes', $decoded];
        }
        if ($char === '?') {
            $flag = $this->text[$this->pos + 1] ?? '';
            if ($flag !== '0' && $flag !== '1') {
                throw self::bad('bad boolean');
            }
            $this->pos += 2;
            return $flag === '1';
        }
        if ($char === '*' || ($char !== '' && ctype_alpha($char))) {
            return ['token', (string) $this->match('/[!#$%&\'*+\-.^_`|~0-9A-Za-z:\/]*/')];
        }
        throw self::bad('not an item');
    }

    /** @param list<array{0: string, 1: mixed}> $params */
    private static function serializeParams(array $params): string
    {
        $out = '';
        foreach ($params as [$key, $value]) {
            $out .= ';' . $key . ($value === true ? '' : '=' . self::bare($value));
        }
        return $out;
    }

    private static function bare(mixed $value): string
    {
        if (is_bool($value)) {
            return $value ? '?1' : '?0';
        }
        if (is_int($value)) {
            return (string) $value;
        }
        [$kind, $content] = $value;
        return match ($kind) {
            'string' => '"' . str_replace(['\\', '"'], ['\\\\', '\\"'], $content) . '"',
            'token' => $content,
            'bytes' => ':' . base64_encode($content) . ':',
            'decimal' => ($content < 0 ? '-' : '') . intdiv(abs($content), 1000) . '.'
                . (rtrim(sprintf('%03d', abs($content) % 1000), '0') ?: '0'),
        };
    }
}
