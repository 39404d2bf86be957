<?php

declare(strict_types=1);

namespace Postbode;

/** The service could not be reached (after the retries allowed). */
final class ConnectionException extends PostbodeException
{
}
