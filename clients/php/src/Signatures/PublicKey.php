<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/** One published public key: rsa-sha256 (RSA, PKCS#1 v1.5 with SHA-256) or ed25519. */
final class PublicKey
{
    public const RSA = 'rsa-sha256';
    public const ED25519 = 'ed25519';
    /** The DER SubjectPublicKeyInfo of an Ed25519 key is this, then the 32 bytes of the key. */
    private const ED25519_SPKI_PREFIX = "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00";

    private function __construct(
        public readonly string $algorithm,
        private readonly mixed $key,
    ) {
    }

    /** From a DER SubjectPublicKeyInfo (the key set's public_key, a DKIM k=rsa record's p=). */
    public static function fromSpki(string $algorithm, string $der): self
    {
        if ($algorithm === self::ED25519) {
            if (strlen($der) !== 44 || !str_starts_with($der, self::ED25519_SPKI_PREFIX)) {
                throw VerificationException::malformed('the published key is not an ed25519 key');
            }
            return new self(self::ED25519, substr($der, 12));
        }
        $pem = "-----BEGIN PUBLIC KEY-----\n" . chunk_split(base64_encode($der), 64, "\n") . "-----END PUBLIC KEY-----\n";
        $key = openssl_pkey_get_public($pem);
        if ($key === false || (openssl_pkey_get_details($key)['type'] ?? null) !== OPENSSL_KEYTYPE_RSA) {
            throw VerificationException::malformed('the published key is not an rsa-sha256 key');
        }
        return new self(self::RSA, $key);
    }

    /** From the raw 32 bytes of an Ed25519 key (a DKIM k=ed25519 record's p=, RFC 8463). */
    public static function fromRawEd25519(string $raw): self
    {
        if (strlen($raw) !== SODIUM_CRYPTO_SIGN_PUBLICKEYBYTES) {
            throw VerificationException::malformed('DKIM record: not an Ed25519 key');
        }
        return new self(self::ED25519, $raw);
    }

    public function verify(string $message, string $signature): bool
    {
        if ($this->algorithm === self::ED25519) {
            return strlen($signature) === SODIUM_CRYPTO_SIGN_BYTES
                && sodium_crypto_sign_verify_detached($signature, $message, $this->key);
        }
        return openssl_verify($message, $signature, $this->key, OPENSSL_ALGO_SHA256) === 1;
    }
}
