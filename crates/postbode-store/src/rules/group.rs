//! What one write group has staged: the rows its ops make, written together at the end
//! in a few multi-row statements, and what the group has read so far (each account's
//! webhooks, once).

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::routing::{Route, RoutedWebhook, Skip};
use crate::backend::{DeliveryRow, EventRow, GroupTx, HourStats, IdempotencyRow};
use crate::handoff::Handoff;
use crate::model::*;
use crate::{Result, StoreError};
use postbode_core::webhook::Webhook;

#[derive(Default)]
pub(crate) struct Group {
    /// The webhooks of each account seen in this group. On SQLite they cannot change
    /// under the group (it holds the write lock); on PostgreSQL a change committed
    /// meanwhile applies from the next group on (a delivery held for a webhook enabled
    /// meanwhile is claimed like any other: being held is the webhook's state, not the
    /// delivery's).
    webhooks: HashMap<String, Vec<RoutedWebhook>>,
    /// Per webhook and hour: events wanted but skipped, and held.
    skipped: HashMap<(String, DateTime<Utc>), HourSkips>,
    events: Vec<EventRow>,
    deliveries: Vec<DeliveryRow>,
    /// Idempotency keys stored by this group, by account and key.
    pub keys: HashMap<(String, String), IdempotencyRow>,
    pub results: Vec<AttemptResult>,
    pub released: Vec<String>,
    /// Some deliveries became due (new ones, retries, released leases).
    pub made_due: bool,
    /// Why the transaction is lost (the database rolled it back on an error): nothing
    /// more of the group is written, and every op in it fails.
    pub broken: Option<StoreError>,
    /// The engine new deliveries are handed to, when one is attached.
    pub handoff: Option<Handoff>,
    /// Deliveries reserved by the engine and inserted leased to it, to hand over after
    /// the commit.
    pub handed: Vec<ClaimedDelivery>,
}

impl Group {
    /// Reads the account's webhooks, once per group.
    pub async fn webhooks_of(&mut self, tx: &mut dyn GroupTx, account_id: &str) -> Result<()> {
        if !self.webhooks.contains_key(account_id) {
            let listed = tx.account_webhooks(account_id).await?;
            self.webhooks.insert(
                account_id.to_owned(),
                listed.into_iter().map(RoutedWebhook::new).collect(),
            );
        }
        Ok(())
    }

    pub fn webhooks(&self, account_id: &str) -> &[RoutedWebhook] {
        self.webhooks.get(account_id).map(Vec::as_slice).unwrap_or_default()
    }

    fn webhook(&self, account_id: &str, webhook_id: &str) -> Option<&Webhook> {
        self.webhooks(account_id)
            .iter()
            .map(|w| &w.webhook)
            .find(|w| w.id == webhook_id)
    }

    /// Stages an event with one delivery per webhook of its route (routed over this
    /// group's webhooks of the account, which [`Group::webhooks_of`] has read).
    pub fn stage(
        &mut self,
        account_id: &str,
        event: NewEvent,
        targets: Vec<String>,
        skipped: Vec<SkipCount>,
    ) -> Ingested {
        let ingested = self.stage_deliveries(account_id, &event, event.created_at, targets, skipped);
        self.events.push(EventRow {
            id: event.id,
            account_id: account_id.to_owned(),
            event_type: event.event_type,
            body: event.body.into(),
            created_at: event.created_at,
            profile_id: event.scope.profile_id,
            trace_parent: event.trace_parent.map(|t| t.to_string()),
        });
        ingested
    }

    /// Stages one delivery per webhook of an event's route, due at `due_at`, and counts
    /// its skips; the event itself is stored already or staged by the caller.
    pub fn stage_deliveries(
        &mut self,
        account_id: &str,
        event: &NewEvent,
        due_at: DateTime<Utc>,
        targets: Vec<String>,
        skipped: Vec<SkipCount>,
    ) -> Ingested {
        let mut summary = Skipped::default();
        for (webhook_id, hour, why) in skipped {
            match why {
                Skip::Unverified => summary.unverified += 1,
                Skip::ConditionError => summary.condition_error += 1,
                Skip::Condition => summary.condition += 1,
                Skip::Held => summary.disabled_held += 1,
            }
            if why != Skip::Condition {
                self.skipped.entry((webhook_id, hour)).or_default().count(why);
            }
        }
        let ingested = Ingested {
            event_id: event.id.clone(),
            deliveries: targets.len() as u32,
            skipped: summary,
            duplicate: false,
        };
        for webhook_id in targets {
            // An ordered webhook keeps its deliveries of one subject in order.
            let ordered = self
                .webhook(account_id, &webhook_id)
                .is_some_and(|w| w.settings.ordering.is_some());
            self.deliveries.push(DeliveryRow {
                id: postbode_core::ids::new_id(postbode_core::ids::DELIVERY),
                account_id: account_id.to_owned(),
                event_id: event.id.clone(),
                webhook_id,
                due_at,
                leased_until: None,
                ordering_key: ordered.then(|| event.scope.subject().map(str::to_owned)).flatten(),
            });
        }
        ingested
    }

    /// Routes and stages an event made inside the group (a profile change, a mail
    /// event) once [`Group::webhooks_of`] has read the account's webhooks.
    pub fn route_and_stage(&mut self, account_id: &str, event: NewEvent, require_verification: bool) -> Ingested {
        let (targets, skipped) = owned(super::routing::route(
            self.webhooks(account_id),
            &event,
            require_verification,
        ));
        self.stage(account_id, event, targets, skipped)
    }

    /// Writes everything staged so far, inside the group's transaction.
    pub async fn flush(&mut self, tx: &mut dyn GroupTx) -> Result<()> {
        if let Some(why) = &self.broken {
            return Err(why.again());
        }
        let mut deliveries = std::mem::take(&mut self.deliveries);
        if !deliveries.is_empty() {
            self.hand_over(&mut deliveries);
        }
        if !self.events.is_empty() {
            tx.insert_events(&std::mem::take(&mut self.events)).await?;
        }
        if !deliveries.is_empty() {
            tx.insert_deliveries(&deliveries).await?;
            // Those handed over are leased to this node: nobody else need look.
            self.made_due |= deliveries.iter().any(|d| d.leased_until.is_none());
        }
        let mut stats = Vec::new();
        if !self.results.is_empty() {
            let results = std::mem::take(&mut self.results);
            stats = super::results::write(tx, &results).await?;
        }
        stats.extend(super::results::skips(std::mem::take(&mut self.skipped)));
        super::results::add_stats(tx, stats).await?;
        if !self.released.is_empty() {
            tx.release(&std::mem::take(&mut self.released)).await?;
            self.made_due = true;
        }
        Ok(())
    }
}

impl Group {
    /// Leases to the attached engine as many of the new deliveries as it takes, and
    /// keeps them (with their event's body) to hand over after the commit.
    fn hand_over(&mut self, deliveries: &mut [DeliveryRow]) {
        let Some(handoff) = &self.handoff else { return };
        let mut wanted: HashMap<&str, usize> = HashMap::new();
        // One that must wait for an earlier delivery of its subject is left to claims,
        // which see what is still pending; one held for a disabled webhook waits there.
        for delivery in deliveries.iter().filter(|d| d.ordering_key.is_none()) {
            if self
                .webhook(&delivery.account_id, &delivery.webhook_id)
                .is_some_and(|w| w.settings.enabled)
            {
                *wanted.entry(delivery.webhook_id.as_str()).or_default() += 1;
            }
        }
        let mut granted: HashMap<String, usize> = wanted
            .into_iter()
            .map(|(webhook_id, count)| (webhook_id.to_owned(), handoff.dispatch.reserve(webhook_id, count)))
            .filter(|(_, granted)| *granted > 0)
            .collect();
        if granted.is_empty() {
            return;
        }
        // The body receivers get, once per event however many webhooks it goes to.
        let bodies: HashMap<&str, (&str, bytes::Bytes, Option<&String>)> = self
            .events
            .iter()
            .map(|e| {
                let body = postbode_core::event::receiver_body(&e.id, &e.event_type, e.created_at, &e.body);
                (
                    e.id.as_str(),
                    (
                        e.event_type.as_str(),
                        bytes::Bytes::from(body.into_owned()),
                        e.trace_parent.as_ref(),
                    ),
                )
            })
            .collect();
        for delivery in deliveries.iter_mut().filter(|d| d.ordering_key.is_none()) {
            let Some(left) = granted.get_mut(&delivery.webhook_id).filter(|left| **left > 0) else {
                continue;
            };
            let Some((event_type, body, trace_parent)) = bodies.get(delivery.event_id.as_str()) else {
                continue;
            };
            *left -= 1;
            delivery.leased_until = Some(delivery.due_at + handoff.lease);
            self.handed.push(ClaimedDelivery {
                delivery_id: delivery.id.clone(),
                event_id: delivery.event_id.clone(),
                webhook_id: delivery.webhook_id.clone(),
                account_id: delivery.account_id.clone(),
                attempts: 0,
                trigger: Trigger::Scheduled,
                event_type: (*event_type).to_owned(),
                body: body.clone(),
                due_at: delivery.due_at,
                ordering_key: None,
                trace_parent: trace_parent.and_then(|t| TraceParent::parse(t)),
            });
        }
        // Reserved for an event not in this flush (cannot happen): give it back.
        for (webhook_id, left) in granted {
            if left > 0 {
                handoff.dispatch.unreserve(&webhook_id, left);
            }
        }
    }

    /// The deliveries handed over by this group, with their webhooks, once it committed.
    pub fn handed_claim(&mut self) -> Claim {
        let deliveries = std::mem::take(&mut self.handed);
        let mut webhooks = HashMap::new();
        for delivery in &deliveries {
            if webhooks.contains_key(&delivery.webhook_id) {
                continue;
            }
            if let Some(routed) = self
                .webhooks(&delivery.account_id)
                .iter()
                .find(|w| w.webhook.id == delivery.webhook_id)
            {
                webhooks.insert(delivery.webhook_id.clone(), routed.webhook.clone());
            }
        }
        Claim { deliveries, webhooks }
    }
}

/// A skipped webhook, the hour it is counted in, and why.
pub(crate) type SkipCount = (String, DateTime<Utc>, Skip);

/// A route's webhooks by id, so staging may borrow the group mutably.
pub(crate) fn owned(route: Route<'_>) -> (Vec<String>, Vec<SkipCount>) {
    (
        route.targets.iter().map(|w| w.webhook.id.clone()).collect(),
        route
            .skipped
            .into_iter()
            .map(|(id, hour, why)| (id.to_owned(), hour, why))
            .collect(),
    )
}

/// One webhook's events of one hour that were skipped or held.
#[derive(Default)]
pub(crate) struct HourSkips {
    unverified: u64,
    condition_errors: u64,
    held: u64,
}

impl HourSkips {
    fn count(&mut self, why: Skip) {
        match why {
            Skip::Unverified => self.unverified += 1,
            Skip::ConditionError => self.condition_errors += 1,
            Skip::Held => self.held += 1,
            Skip::Condition => {}
        }
    }
}

/// One webhook's hour with only the skips set, to add to what is stored.
pub(crate) fn skip_stats(webhook_id: String, hour: DateTime<Utc>, skips: HourSkips) -> HourStats {
    HourStats {
        webhook_id,
        hour,
        skipped_unverified: skips.unverified,
        condition_errors: skips.condition_errors,
        held: skips.held,
        ..HourStats::default()
    }
}
