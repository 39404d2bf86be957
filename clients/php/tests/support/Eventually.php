<?php

declare(strict_types=1);

namespace Postbode\Tests\support;

final class Eventually
{
    /** Polls $check until it returns something other than null or false (a hang guard, not a speed test). */
    public static function value(string $what, callable $check, float $timeout = 30.0): mixed
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            $value = $check();
            if ($value !== null && $value !== false) {
                return $value;
            }
            if (microtime(true) > $deadline) {
                throw new \RuntimeException("gave up waiting for {$what}");
            }
            usleep(20_000);
        }
    }
}
