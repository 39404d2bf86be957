<?php

declare(strict_types=1);

namespace Postbode\Tests\support;

/** A real webhook receiver: PHP's built-in server running receiver.php. */
final class Receiver
{
    public readonly string $url;
    private readonly PhpServer $server;

    public function __construct()
    {
        $this->server = new PhpServer(__DIR__ . '/receiver.php', 'RECEIVER_DIR');
        $this->url = $this->server->url . '/hooks/receive.php';
    }

    /** @param list<int> $statuses */
    public function answerWith(array $statuses): void
    {
        file_put_contents($this->server->dir . '/statuses', json_encode($statuses));
    }

    public function serve(string $path, string $content): void
    {
        file_put_contents($this->server->dir . '/files/' . sha1($path), $content);
    }

    /** @return list<array{method: string, target: string, headers: list<array{0: string, 1: string}>, body: string}> */
    public function calls(): array
    {
        $calls = [];
        foreach (glob($this->server->dir . '/calls/*.json') ?: [] as $file) {
            $call = json_decode((string) file_get_contents($file), true);
            if (is_array($call)) {
                $call['body'] = base64_decode($call['body']);
                $calls[] = $call;
            }
        }
        return $calls;
    }

    /** Waits (a hang guard, not a speed test) until $count calls came. */
    public function waitFor(int $count): array
    {
        return Eventually::value("{$count} calls at the receiver", fn () => count($calls = $this->calls()) >= $count ? $calls : null);
    }

    public function stop(): void
    {
        $this->server->stop();
    }
}
