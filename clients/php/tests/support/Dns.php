<?php

declare(strict_types=1);

namespace Postbode\Tests\support;

/**
 * A TXT look-up that asks one DNS server over UDP. PHP's own dns_get_record() always
 * asks the system's resolvers, so the tests hand the verifier this function instead,
 * pointed at the test's DNS server on 127.0.0.1 (clients/test.sh starts it).
 */
final class Dns
{
    /** @return \Closure(string): list<string> */
    public static function resolver(string $server): \Closure
    {
        return static function (string $name) use ($server): array {
            $socket = stream_socket_client("udp://{$server}", $errno, $error, 5);
            if ($socket === false) {
                throw new \RuntimeException("DNS server {$server}: {$error}");
            }
            stream_set_timeout($socket, 5);
            $id = random_int(0, 0xffff);
            $question = '';
            foreach (explode('.', rtrim($name, '.')) as $label) {
                $question .= chr(strlen($label)) . $label;
            }
            $question .= "\0" . pack('nn', 16, 1);
            fwrite($socket, pack('nnnnnn', $id, 0x0100, 1, 0, 0, 0) . $question);
            $answer = (string) fread($socket, 4096);
            fclose($socket);
            [, $replyId, $flags, , $answers] = unpack('n5', $answer);
            if ($replyId !== $id || ($flags & 0x000f) === 3) {
                return [];
            }
            $pos = 12 + strlen($question);
            $texts = [];
            for ($i = 0; $i < $answers; $i++) {
                $pos += (ord($answer[$pos]) & 0xc0) === 0xc0 ? 2 : strlen(self::skipName($answer, $pos));
                ['type' => $type, 'length' => $length] = unpack('ntype/nclass/Nttl/nlength', $answer, $pos);
                $pos += 10;
                if ($type === 16) {
                    $text = '';
                    for ($at = $pos; $at < $pos + $length; $at += 1 + ord($answer[$at])) {
                        $text .= substr($answer, $at + 1, ord($answer[$at]));
                    }
                    $texts[] = $text;
                }
                $pos += $length;
            }
            return $texts;
        };
    }

    private static function skipName(string $packet, int $pos): string
    {
        $start = $pos;
        while (ord($packet[$pos]) !== 0) {
            $pos += 1 + ord($packet[$pos]);
        }
        return substr($packet, $start, $pos - $start + 1);
    }
}
