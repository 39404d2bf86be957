<?php

declare(strict_types=1);

namespace Postbode;

/**
 * An RFC 9457 problem document the API answered with: the status, its type
 * (/problems/validation), title, detail, each bad field by its full path (on 400 and
 * 422) and the Retry-After in seconds when the answer had one.
 */
final class ApiException extends PostbodeException
{
    /** @var list<array{field: string, message: string}> */
    public readonly array $errors;

    /** @param array<string, mixed> $problem */
    public function __construct(
        public readonly int $status,
        public readonly array $problem,
        public readonly ?float $retryAfter = null,
    ) {
        $this->errors = array_values(array_map(
            static fn ($e): array => ['field' => (string) ($e['field'] ?? ''), 'message' => (string) ($e['message'] ?? '')],
            is_array($problem['errors'] ?? null) ? $problem['errors'] : [],
        ));
        $detail = (string) ($problem['detail'] ?? '');
        parent::__construct(sprintf('%d %s: %s', $status, $this->getTitle(), $detail !== '' ? $detail : $this->getType()), $status);
    }

    public function getType(): string
    {
        return (string) ($this->problem['type'] ?? 'about:blank');
    }

    public function getTitle(): string
    {
        return (string) ($this->problem['title'] ?? '');
    }

    public function getDetail(): string
    {
        return (string) ($this->problem['detail'] ?? '');
    }

    /** @return array<string, string> the bad fields by path: ['events[1].type' => 'required'] */
    public function getFieldErrors(): array
    {
        return array_column($this->errors, 'message', 'field');
    }

    public function isNotFound(): bool
    {
        return $this->status === 404;
    }
}
