<?php

declare(strict_types=1);

namespace Postbode;

/** Every error of this library. */
class PostbodeException extends \RuntimeException
{
}
