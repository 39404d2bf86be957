<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/**
 * Finds Postbode's public key by its id. Postbode publishes every key twice
 * (docs/payloads.md, "How the keys are published"): as a DKIM-style TXT record at the key
 * id, and in the key set at GET /.well-known/postbode/keys.
 *
 * - fromKeySet($json): a key set you already hold;
 * - fromUrl($url): fetched when first needed and kept in a file for $cacheSeconds (PHP
 *   forgets everything between requests), fetched again early when a call names a key
 *   it does not hold (at most every $refreshSeconds, so forged key ids cannot make it
 *   hammer the server);
 * - fromDns($resolveTxt): the TXT record at the key id, looked up by $resolveTxt
 *   (default dns_get_record, the system's resolver).
 */
final class PublishedKeys
{
    /** @param \Closure(string): ?PublicKey $lookup */
    public function __construct(private readonly \Closure $lookup)
    {
    }

    public function find(string $keyId): ?PublicKey
    {
        return ($this->lookup)($keyId);
    }

    /** @param string|array<string, mixed> $keySet the key set's JSON, or it decoded */
    public static function fromKeySet(string|array $keySet): self
    {
        $keys = self::parseKeySet($keySet);
        return new self(static fn (string $keyId): ?PublicKey => $keys[strtolower($keyId)] ?? null);
    }

    /**
     * @param ?string $cacheFile where the fetched set is kept (default in the temporary directory)
     * @param ?\Closure(string): string $fetch fetches a URL's body (default: curl)
     */
    public static function fromUrl(
        string $url,
        int $cacheSeconds = 3600,
        int $refreshSeconds = 10,
        ?string $cacheFile = null,
        ?\Closure $fetch = null,
    ): self {
        $cacheFile ??= sys_get_temp_dir() . '/postbode-keys-' . hash('sha256', $url) . '.json';
        $fetch ??= static fn (string $u): string => self::get($u);
        $memory = null;
        return new self(static function (string $keyId) use ($url, $cacheSeconds, $refreshSeconds, $cacheFile, $fetch, &$memory): ?PublicKey {
            clearstatcache(true, $cacheFile);
            $fetchedAt = is_file($cacheFile) ? (int) filemtime($cacheFile) : null;
            $age = $fetchedAt === null ? PHP_INT_MAX : time() - $fetchedAt;
            $keys = $memory ?? ($fetchedAt !== null ? self::parseKeySet((string) file_get_contents($cacheFile)) : []);
            $key = $keys[strtolower($keyId)] ?? null;
            if ($age >= $cacheSeconds || ($key === null && $age >= $refreshSeconds)) {
                $text = $fetch($url);
                $keys = self::parseKeySet($text);
                $temporary = $cacheFile . '.' . bin2hex(random_bytes(4));
                if (@file_put_contents($temporary, $text) !== false) {
                    @rename($temporary, $cacheFile);
                }
                $key = $keys[strtolower($keyId)] ?? null;
            }
            $memory = $keys;
            return $key;
        });
    }

    /** @param ?\Closure(string): list<string> $resolveTxt the TXT records at a name, each one string */
    public static function fromDns(?\Closure $resolveTxt = null): self
    {
        $resolveTxt ??= static function (string $name): array {
            $records = @dns_get_record($name, DNS_TXT);
            return array_map(static fn (array $r): string => implode('', $r['entries'] ?? [$r['txt'] ?? '']), $records ?: []);
        };
        $cache = [];
        return new self(static function (string $keyId) use ($resolveTxt, &$cache): ?PublicKey {
            $name = rtrim(strtolower($keyId), '.');
            if (!array_key_exists($name, $cache)) {
                $cache[$name] = null;
                foreach ($resolveTxt($name) as $text) {
                    if (str_starts_with($text, 'v=DKIM1') || str_contains($text, 'p=')) {
                        $cache[$name] = self::parseDkimRecord($text);
                        break;
                    }
                }
            }
            return $cache[$name];
        });
    }

    /**
     * The keys of a key set by lower-case key id; keys of unknown algorithms are skipped.
     *
     * @param string|array<string, mixed> $keySet
     * @return array<string, PublicKey>
     */
    public static function parseKeySet(string|array $keySet): array
    {
        $document = is_string($keySet) ? json_decode($keySet, true) : $keySet;
        if (!is_array($document)) {
            throw VerificationException::malformed('key set: not JSON');
        }
        $keys = [];
        foreach ($document['keys'] ?? [] as $entry) {
            $algorithm = $entry['algorithm'] ?? '';
            if ($algorithm !== PublicKey::RSA && $algorithm !== PublicKey::ED25519) {
                continue;
            }
            $der = Checks::base64((string) $entry['public_key'], "the key {$entry['key_id']}");
            $keys[strtolower((string) $entry['key_id'])] = PublicKey::fromSpki($algorithm, $der);
        }
        return $keys;
    }

    /** The key of a DKIM key record (v=DKIM1;k=rsa;p=...); null when revoked (an empty p=). */
    public static function parseDkimRecord(string $text): ?PublicKey
    {
        $tags = [];
        foreach (explode(';', $text) as $part) {
            $part = trim($part);
            if ($part === '') {
                continue;
            }
            if (!str_contains($part, '=')) {
                throw VerificationException::malformed('DKIM record: a tag without =');
            }
            [$name, $value] = array_map('trim', explode('=', $part, 2));
            if (array_key_exists($name, $tags)) {
                throw VerificationException::malformed("DKIM record: duplicate tag {$name}");
            }
            $tags[$name] = $value;
        }
        if (($tags['v'] ?? 'DKIM1') !== 'DKIM1') {
            throw VerificationException::malformed('DKIM record: v= is not DKIM1');
        }
        if (!array_key_exists('p', $tags)) {
            throw VerificationException::malformed('DKIM record: no p= tag');
        }
        $encoded = (string) preg_replace('/\s+/', '', $tags['p']);
        if ($encoded === '') {
            return null;
        }
        $raw = Checks::base64($encoded, 'DKIM record: p=');
        return match ($tags['k'] ?? 'rsa') {
            'rsa' => PublicKey::fromSpki(PublicKey::RSA, $raw),
            'ed25519' => PublicKey::fromRawEd25519($raw),
            default => throw VerificationException::malformed("DKIM record: unknown key type k={$tags['k']}"),
        };
    }

    private static function get(string $url): string
    {
        $handle = curl_init($url);
        curl_setopt_array($handle, [CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 10, CURLOPT_HTTPHEADER => ['Accept: application/json']]);
        $body = curl_exec($handle);
        $status = curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        curl_close($handle);
        if ($body === false || $status !== 200) {
            throw new \RuntimeException("fetching the key set {$url}: HTTP {$status}");
        }
        return (string) $body;
    }
}
