<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/**
 * Checks a call signed with rfc9421: HTTP Message Signatures (RFC 9421) with Ed25519.
 * $scheme is the scheme Postbode called (the webhook URL's; https also behind a proxy
 * that terminates TLS), part of the signed @target-uri. The other arguments are those
 * of HttpSignature.
 */
final class Rfc9421
{
    private const LABEL = 'sig1';
    private const PARAM_KINDS = ['created' => 'int', 'expires' => 'int', 'keyid' => 'string', 'alg' => 'string', 'nonce' => 'string', 'tag' => 'string'];

    /** @var list<string> */
    private readonly array $required;

    public function __construct(
        private readonly PublishedKeys $keys,
        private readonly string $account,
        private readonly string $keyDomain,
        private readonly string $accountHeader = 'X-Postbode-Account',
        private readonly string $scheme = 'https',
        private readonly int $maxAge = 60,
        private readonly int $futureSkew = 10,
    ) {
        $this->required = ['@method', '@target-uri', 'content-digest', 'content-type', strtolower($accountHeader)];
    }

    public function verify(Request $request, ?int $now = null): Verified
    {
        $now ??= time();
        $inputs = [];
        foreach (StructuredFields::parseDictionary($request->required('signature-input')) as [$label, $member]) {
            $inputs[] = self::input($label, $member);
        }
        $signatures = [];
        foreach (StructuredFields::parseDictionary($request->required('signature')) as [$label, $member]) {
            if ($member[0] !== 'item' || !StructuredFields::isBytes($member[1])) {
                throw VerificationException::malformed("signature: {$label} is not a byte sequence");
            }
            $signatures[$label] = $member[1][1];
        }
        $chosen = count($inputs) === 1 ? $inputs[0] : null;
        foreach ($inputs as $input) {
            $chosen ??= $input['label'] === self::LABEL ? $input : null;
        }
        if ($chosen === null) {
            throw VerificationException::malformed('signature-input: no ' . self::LABEL . ' member');
        }
        $signature = $signatures[$chosen['label']] ?? throw VerificationException::malformed("signature: no {$chosen['label']} member");
        $params = $chosen['params'];
        if (isset($params['alg']) && $params['alg'] !== PublicKey::ED25519) {
            throw VerificationException::malformed("signature-input: alg {$params['alg']} is not ed25519");
        }
        $keyId = $params['keyid'] ?? throw VerificationException::malformed('signature-input: no keyid');
        $created = $params['created'] ?? throw VerificationException::malformed('signature-input: no created');
        foreach ($this->required as $name) {
            if (!in_array($name, $chosen['components'], true)) {
                throw new VerificationException('not_covered', "the signature does not cover {$name}");
            }
        }
        if (!Checks::isUnderDomain($keyId, $this->keyDomain)) {
            throw new VerificationException('untrusted_key_domain', "the key {$keyId} is not under the trusted key domain");
        }
        Checks::age($created, $now, $this->maxAge, $this->futureSkew);
        if (isset($params['expires']) && $params['expires'] <= $now) {
            throw new VerificationException('stale', 'the signature expired');
        }
        if ($request->required($this->accountHeader) !== $this->account) {
            throw new VerificationException('wrong_account', 'the account header names another account');
        }
        self::checkContentDigest($request->required('content-digest'), $request->body);

        $key = $this->keys->find($keyId) ?? throw new VerificationException('unknown_key', "no published key has the id {$keyId}");
        if ($key->algorithm !== PublicKey::ED25519) {
            throw new VerificationException('bad_signature', 'the key is not an Ed25519 key');
        }
        if (!$key->verify($this->signatureBase($request, $chosen), $signature)) {
            throw new VerificationException('bad_signature', 'the signature does not verify');
        }
        return new Verified($keyId, PublicKey::ED25519, $chosen['components']);
    }

    /** @return array{label: string, components: list<string>, params: array<string, int|string>, serialized: string} */
    private static function input(string $label, array $member): array
    {
        if ($member[0] !== 'list') {
            throw VerificationException::malformed("signature-input: {$label} is not an inner list");
        }
        $components = [];
        foreach ($member[1] as [$value, $itemParams]) {
            if (!StructuredFields::isString($value)) {
                throw VerificationException::malformed('signature-input: a component is not a string');
            }
            if ($itemParams !== []) {
                throw VerificationException::malformed('signature-input: component parameters are not supported');
            }
            $name = $value[1];
            if ($name === '' || $name !== strtolower($name)) {
                throw VerificationException::malformed('signature-input: a component name is empty or not lower case');
            }
            if (in_array($name, $components, true)) {
                throw VerificationException::malformed("signature-input: {$name} is covered twice");
            }
            $components[] = $name;
        }
        $params = [];
        foreach ($member[2] as [$name, $value]) {
            $kind = self::PARAM_KINDS[$name] ?? null;
            if ($kind === null) {
                continue;
            }
            $valid = $kind === 'int' ? is_int($value) : StructuredFields::isString($value);
            if (!$valid) {
                throw VerificationException::malformed("signature-input: {$name} has the wrong type");
            }
            $params[$name] = $kind === 'int' ? $value : $value[1];
        }
        $serialized = StructuredFields::serializeInnerList($member[1], $member[2]);
        return ['label' => $label, 'components' => $components, 'params' => $params, 'serialized' => $serialized];
    }

    private static function checkContentDigest(string $value, string $body): void
    {
        foreach (StructuredFields::parseDictionary($value) as [$name, $member]) {
            if ($name !== 'sha-256') {
                continue;
            }
            if ($member[0] !== 'item' || !StructuredFields::isBytes($member[1])) {
                throw VerificationException::malformed('content-digest: sha-256 is not a byte sequence');
            }
            if (!Checks::sameDigest($body, $member[1][1])) {
                throw new VerificationException('digest_mismatch', 'the body does not match its digest');
            }
            return;
        }
        throw VerificationException::malformed('content-digest: no sha-256 member');
    }

    /** @param array{components: list<string>, serialized: string} $input */
    private function signatureBase(Request $request, array $input): string
    {
        $scheme = strtolower($this->scheme);
        [$path] = explode('?', $request->target, 2);
        $query = str_contains($request->target, '?') ? substr($request->target, strpos($request->target, '?') + 1) : '';
        $lines = [];
        foreach ($input['components'] as $name) {
            $value = match (true) {
                $name === '@method' => $request->method,
                $name === '@target-uri' => $scheme . '://' . $request->required('host') . $request->target,
                $name === '@authority' => strtolower($request->required('host')),
                $name === '@scheme' => $scheme,
                $name === '@request-target' => $request->target,
                $name === '@path' => $path,
                $name === '@query' => '?' . $query,
                str_starts_with($name, '@') => throw VerificationException::malformed("signature-input: unsupported component {$name}"),
                default => $request->required($name),
            };
            if (strpbrk($value, "\r\n") !== false) {
                throw VerificationException::malformed("{$name}: a line break in the value");
            }
            $lines[] = "\"{$name}\": {$value}";
        }
        $lines[] = '"@signature-params": ' . $input['serialized'];
        return implode("\n", $lines);
    }
}
