<?php

declare(strict_types=1);

namespace Postbode\Signatures;

/**
 * Nonces as files in a directory, which every PHP worker on the machine shares (PHP
 * forgets everything between requests, so a cache in memory would not see a replay).
 * Creating a file with mode 'x' is atomic: of two requests with one nonce, one wins.
 * Behind several machines, share the directory or implement NonceStore over Redis.
 */
final class FileNonceStore implements NonceStore
{
    public function __construct(private readonly string $directory)
    {
        if (!is_dir($directory) && !@mkdir($directory, 0700, true) && !is_dir($directory)) {
            throw new \RuntimeException("cannot create {$directory}");
        }
    }

    public function checkAndInsert(string $nonce, int $now, int $windowSeconds): bool
    {
        $path = $this->directory . '/' . hash('sha256', $nonce);
        $handle = @fopen($path, 'x');
        if ($handle === false) {
            clearstatcache(true, $path);
            $seenAt = @filemtime($path);
            if ($seenAt !== false && $seenAt > $now - $windowSeconds) {
                return false;
            }
            // Seen long ago: the window passed, the nonce may be used again.
            @unlink($path);
            return $this->checkAndInsert($nonce, $now, $windowSeconds);
        }
        fclose($handle);
        touch($path, $now);
        if (random_int(0, 99) === 0) {
            $this->forget($now - $windowSeconds);
        }
        return true;
    }

    private function forget(int $before): void
    {
        foreach (glob($this->directory . '/*') ?: [] as $file) {
            if (@filemtime($file) < $before) {
                @unlink($file);
            }
        }
    }
}
