<?php

declare(strict_types=1);

namespace Postbode;

/** This library's version: Postbode's (clients/versions.py keeps them equal). */
final class Version
{
    public const VERSION = '0.1.0';
}
