<?php

declare(strict_types=1);

namespace Postbode\Tests\support;

/** PHP's built-in server on 127.0.0.1 running one router script, with a directory of its own. */
final class PhpServer
{
    public readonly string $url;
    public readonly string $dir;
    /** @var resource */
    private $process;

    /** @param array<string, string> $env */
    public function __construct(string $router, string $dirVariable, array $env = [])
    {
        $this->dir = sys_get_temp_dir() . '/postbode-php-test-' . bin2hex(random_bytes(6));
        mkdir($this->dir . '/calls', 0700, true);
        mkdir($this->dir . '/files', 0700, true);
        $probe = stream_socket_server('tcp://127.0.0.1:0');
        $address = stream_socket_get_name($probe, false);
        fclose($probe);
        $this->url = "http://{$address}";
        $command = [PHP_BINARY, '-S', $address, $router];
        $environment = array_merge(getenv(), [$dirVariable => $this->dir], $env);
        $this->process = proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes, null, $environment);
        $deadline = microtime(true) + 30;
        while (@fsockopen('127.0.0.1', (int) parse_url($this->url, PHP_URL_PORT)) === false) {
            if (microtime(true) > $deadline) {
                throw new \RuntimeException("the PHP server for {$router} did not start");
            }
            usleep(20_000);
        }
    }

    public function stop(): void
    {
        proc_terminate($this->process);
        proc_close($this->process);
        foreach (new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($this->dir, \FilesystemIterator::SKIP_DOTS), \RecursiveIteratorIterator::CHILD_FIRST) as $file) {
            $file->isDir() ? rmdir($file->getPathname()) : unlink($file->getPathname());
        }
        rmdir($this->dir);
    }
}
