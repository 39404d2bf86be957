<?php

declare(strict_types=1);

namespace Postbode\Resources;

final class Deliveries extends Resource
{
    /** @return array<string, mixed> */
    public function get(string $deliveryId): array
    {
        return $this->transport->json('getDelivery', ['id' => $deliveryId]);
    }

    /** @return array<string, mixed> the delivery, due now for one more attempt with the same id */
    public function resend(string $deliveryId): array
    {
        return $this->transport->json('resendDelivery', ['id' => $deliveryId]);
    }
}
