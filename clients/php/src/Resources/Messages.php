<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class Messages extends Resource
{
    /**
     * Registers a sent message; $mailing is ['id' => ..., 'name' => ..., 'tags' => [...]].
     *
     * @param array<string, mixed> $mailing
     * @param array{profile_id?: string, subprofile_id?: string} $options
     * @return array{id: string, open_url: string}
     */
    public function create(array $mailing, string $email, array $options = []): array
    {
        return $this->transport->json('createMessage', [], ['json' => ['mailing' => $mailing, 'email' => $email] + $options]);
    }

    /** @return array{click_url: string} a tracked click URL for $url, to put in the e-mail */
    public function link(string $messageId, string $url): array
    {
        return $this->transport->json('createMessageLink', ['id' => $messageId], ['json' => ['url' => $url]]);
    }

    /** @param array{extended?: string, description?: string} $report @return array{id: string, deliveries: int} */
    public function reportDelivery(string $messageId, int $code, array $report = []): array
    {
        return $this->report('reportDelivery', $messageId, ['code' => $code] + $report);
    }

    /** @param array{envelope?: string, mime?: string} $report @return array{id: string, deliveries: int} */
    public function reportBounce(string $messageId, array $report = []): array
    {
        return $this->report('reportBounce', $messageId, $report);
    }

    /**
     * @param string $state connect, mail, rcpt, data or bounce
     * @param array{action?: string, extended?: string, description?: string} $report
     * @return array{id: string, deliveries: int}
     */
    public function reportFailure(string $messageId, string $state, int $code, array $report = []): array
    {
        return $this->report('reportFailure', $messageId, ['state' => $state, 'code' => $code] + $report);
    }

    /** @param array{emailfrom?: string, mime?: string} $report @return array{id: string, deliveries: int} */
    public function reportAbuse(string $messageId, array $report = []): array
    {
        return $this->report('reportAbuse', $messageId, $report);
    }

    /** Also applies the database's and collection's unsubscribe behaviour. @return array{id: string, deliveries: int} */
    public function reportUnsubscribe(string $messageId): array
    {
        return $this->report('reportUnsubscribe', $messageId, []);
    }

    /** @return array{id: string, deliveries: int} */
    private function report(string $operation, string $messageId, array $report): array
    {
        return $this->transport->json($operation, ['id' => $messageId], ['json' => (object) $report]);
    }
}
