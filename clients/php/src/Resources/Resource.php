<?php

declare(strict_types=1);

namespace Postbode\Resources;

use Postbode\Transport;

/** @internal a resource's methods name operations; the transport does the rest */
abstract class Resource
{
    public function __construct(protected readonly Transport $transport)
    {
    }

    /** @param array<string, mixed> $fields @return array<string, mixed> the given (non-null) fields */
    protected static function given(array $fields): array
    {
        return array_filter($fields, static fn ($value): bool => $value !== null);
    }
}
