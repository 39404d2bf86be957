<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/**
 * Checks a call signed with http-signature: the suite's draft-cavage HTTP Signature,
 * rsa-sha256, keys published like DKIM keys.
 *
 * - $keys: where the keys are (PublishedKeys::fromUrl or ::fromDns);
 * - $account: your account id (acc_..., GET /v1/account), with the operator's account
 *   prefix in front if one is set;
 * - $keyDomain: the key domain you trust; only keys <selector>._domainkey.<keyDomain>;
 * - $maxAge: how old Date may be (60 s); $futureSkew: how far ahead (10 s);
 * - $nonces: where accepted nonces are remembered (default: files in the temporary
 *   directory, which every PHP worker of the machine shares).
 */
final class HttpSignature
{
    private const MIN_NONCE_LEN = 16;

    private readonly NonceStore $nonces;
    /** @var list<string> */
    private readonly array $required;

    public function __construct(
        private readonly PublishedKeys $keys,
        private readonly string $account,
        private readonly string $keyDomain,
        private readonly string $accountHeader = 'X-Postbode-Account',
        private readonly int $maxAge = 60,
        private readonly int $futureSkew = 10,
        ?NonceStore $nonces = null,
    ) {
        $this->nonces = $nonces ?? new FileNonceStore(sys_get_temp_dir() . '/postbode-nonces');
        $this->required = ['(request-target)', 'host', 'date', strtolower($accountHeader), 'digest', 'x-nonce'];
    }

    /** Returns what was verified; throws VerificationException. */
    public function verify(Request $request, ?int $now = null): Verified
    {
        $now ??= time();
        $params = self::parseSignatureHeader($request->required('signature'));
        $keyId = $params['keyid'] ?? throw VerificationException::malformed('signature header: no keyId');
        $signature = Checks::base64(
            $params['signature'] ?? throw VerificationException::malformed('signature header: no signature'),
            'signature header: signature',
        );
        $covered = isset($params['headers']) ? preg_split('/\s+/', strtolower($params['headers']), -1, PREG_SPLIT_NO_EMPTY) : ['date'];
        if ($covered === []) {
            throw VerificationException::malformed('signature header: headers is empty');
        }
        if (isset($params['algorithm']) && strtolower($params['algorithm']) !== PublicKey::RSA) {
            throw VerificationException::malformed("signature header: algorithm {$params['algorithm']} is not rsa-sha256");
        }
        foreach ($this->required as $name) {
            if (!in_array($name, $covered, true)) {
                throw new VerificationException('not_covered', "the signature does not cover {$name}");
            }
        }
        if (!Checks::isUnderDomain($keyId, $this->keyDomain)) {
            throw new VerificationException('untrusted_key_domain', "the key {$keyId} is not under the trusted key domain");
        }
        $sent = strtotime($request->required('date'));
        if ($sent === false) {
            throw VerificationException::malformed('date: not an HTTP date');
        }
        Checks::age($sent, $now, $this->maxAge, $this->futureSkew);
        if ($request->required($this->accountHeader) !== $this->account) {
            throw new VerificationException('wrong_account', 'the account header names another account');
        }
        self::checkDigest($request->required('digest'), $request->body);
        $nonce = $request->required('x-nonce');
        if (strlen($nonce) < self::MIN_NONCE_LEN) {
            throw VerificationException::malformed('x-nonce: shorter than ' . self::MIN_NONCE_LEN . ' characters');
        }

        $key = $this->keys->find($keyId) ?? throw new VerificationException('unknown_key', "no published key has the id {$keyId}");
        if ($key->algorithm !== PublicKey::RSA) {
            throw new VerificationException('bad_signature', 'the key is not an RSA key');
        }
        if (!$key->verify(self::signingString($request, $covered, $params), $signature)) {
            throw new VerificationException('bad_signature', 'the signature does not verify');
        }
        // Only now: forged calls must not fill the store.
        if (!$this->nonces->checkAndInsert($nonce, $now, $this->maxAge + $this->futureSkew + 1)) {
            throw new VerificationException('replayed_nonce', 'the nonce was already seen: the call is replayed');
        }
        return new Verified($keyId, PublicKey::RSA, $covered);
    }

    /** The sha-256 entry of a Digest value (the algorithm in any case) matches the body. */
    private static function checkDigest(string $value, string $body): void
    {
        $found = null;
        foreach (explode(',', $value) as $entry) {
            $entry = trim($entry);
            if (!str_contains($entry, '=')) {
                throw VerificationException::malformed('digest: an entry without =');
            }
            [$algorithm, $encoded] = explode('=', $entry, 2);
            if (strtolower(trim($algorithm)) === 'sha-256') {
                if ($found !== null) {
                    throw VerificationException::malformed('digest: two sha-256 entries');
                }
                $found = $encoded;
            }
        }
        if ($found === null) {
            throw VerificationException::malformed('digest: no sha-256 entry');
        }
        if (!Checks::sameDigest($body, Checks::base64($found, 'digest'))) {
            throw new VerificationException('digest_mismatch', 'the body does not match its digest');
        }
    }

    /** @param list<string> $covered @param array<string, string> $params */
    private static function signingString(Request $request, array $covered, array $params): string
    {
        $lines = [];
        foreach ($covered as $name) {
            $value = match (true) {
                $name === '(request-target)' => strtolower($request->method) . ' ' . $request->target,
                $name === '(keyid)' => $params['keyid'],
                $name === '(algorithm)' => $params['algorithm'] ?? PublicKey::RSA,
                $name === '(created)', $name === '(expires)' => $params[trim($name, '()')]
                    ?? throw VerificationException::malformed("signature: {$name} is covered but has no parameter"),
                str_starts_with($name, '(') => throw VerificationException::malformed("signature: unsupported pseudo-header {$name}"),
                default => $request->required($name),
            };
            $lines[] = "{$name}: {$value}";
        }
        return implode("\n", $lines);
    }

    /**
     * A Signature header's parameters, names in lower case; a repeated parameter refuses
     * the header. "Signature ..." (the Authorization form) is accepted too.
     *
     * @return array<string, string>
     */
    public static function parseSignatureHeader(string $value): array
    {
        if (strlen($value) > 8192) {
            throw VerificationException::malformed('signature header: too long');
        }
        $text = trim($value);
        if (strlen($text) > 10 && strtolower(substr($text, 0, 10)) === 'signature ') {
            $text = ltrim(substr($text, 10), " \t");
        }
        $params = [];
        $pos = 0;
        $length = strlen($text);
        while (true) {
            $pos += strspn($text, " \t,", $pos);
            if ($pos >= $length) {
                return $params;
            }
            if (preg_match('/[!#$%&\'*+\-.^_`|~0-9A-Za-z]+/A', $text, $m, 0, $pos) !== 1) {
                throw VerificationException::malformed('signature header: expected a parameter name');
            }
            $name = strtolower($m[0]);
            $pos += strlen($m[0]);
            $pos += strspn($text, " \t", $pos);
            if (($text[$pos] ?? '') !== '=') {
                throw VerificationException::malformed("signature header: {$name} has no value");
            }
            $pos++;
            $pos += strspn($text, " \t", $pos);
            if (($text[$pos] ?? '') === '"') {
                $pos++;
                $param = '';
                while (true) {
                    if ($pos >= $length) {
                        throw VerificationException::malformed('signature header: unterminated quoted string');
                    }
                    $c = $text[$pos];
                    if ($c === '"') {
                        $pos++;
                        break;
                    }
                    if ($c === '\\') {
                        if ($pos + 1 >= $length) {
                            throw VerificationException::malformed('signature header: unterminated quoted string');
                        }
                        $c = $text[++$pos];
                    }
                    if ((ord($c) < 32 && $c !== "\t") || ord($c) === 127) {
                        throw VerificationException::malformed('signature header: control character');
                    }
                    $param .= $c;
                    $pos++;
                }
            } else {
                if (preg_match('/[!#$%&\'*+\-.^_`|~0-9A-Za-z\/=]+/A', $text, $m, 0, $pos) !== 1) {
                    throw VerificationException::malformed("signature header: {$name} has no value");
                }
                $param = $m[0];
                $pos += strlen($m[0]);
            }
            if (array_key_exists($name, $params)) {
                throw VerificationException::malformed("signature header: {$name} appears twice");
            }
            $params[$name] = $param;
            $pos += strspn($text, " \t", $pos);
            if ($pos < $length && $text[$pos] !== ',') {
                throw VerificationException::malformed('signature header: expected a comma');
            }
        }
    }
}
