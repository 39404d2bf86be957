//! Which webhooks get an event: type, then scope and sources, then verification, then
//! the condition over the event's scope. A disabled webhook gets its delivery too, held:
//! claims pass it by until the webhook is enabled again. Events a webhook wanted but did
//! not get (unverified URL, a condition that could not be evaluated) and held ones are
//! counted per hour.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use postbode_core::condition::{Condition, ConditionError};
use postbode_core::webhook::{VerificationStatus, Webhook};

use crate::model::NewEvent;

/// A webhook as routing sees it, its condition compiled once per group.
pub(crate) struct RoutedWebhook {
    pub webhook: Webhook,
    /// `Err` (a condition stored by an older version that no longer compiles) counts as
    /// an evaluation error for every event.
    condition: Option<Result<Condition, ConditionError>>,
}

impl RoutedWebhook {
    pub fn new(webhook: Webhook) -> Self {
        Self {
            condition: webhook.settings.condition.as_deref().map(Condition::compile),
            webhook,
        }
    }

    fn verified(&self) -> bool {
        self.webhook.verification.status == VerificationStatus::Verified
    }

    /// Whether the webhook's condition holds for an event; `Err` when it cannot be
    /// evaluated, which skips the webhook for this event.
    fn accepts(&self, event: &NewEvent) -> Result<bool, ConditionError> {
        let Some(condition) = &self.condition else {
            return Ok(true);
        };
        let condition = condition.as_ref().map_err(Clone::clone)?;
        condition.evaluate(&event.scope.condition_context(&event.event_type))
    }
}

/// Why a webhook that wanted an event did not get a delivery going out at once. Every
/// one is counted in the hour's statistics except `Condition`: a condition that does not
/// hold is the webhook asking not to get the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    Unverified,
    ConditionError,
    Condition,
    /// Disabled: the delivery is made, and waits.
    Held,
}

/// The webhooks an event goes to (held ones included), and those that wanted it but
/// did not get a delivery going out at once (with the hour it is counted in).
#[derive(Default)]
pub(crate) struct Route<'w> {
    pub targets: Vec<&'w RoutedWebhook>,
    pub skipped: Vec<(&'w str, DateTime<Utc>, Skip)>,
}

pub(crate) fn route<'w>(webhooks: &'w [RoutedWebhook], event: &NewEvent, require_verification: bool) -> Route<'w> {
    let mut route = Route::default();
    let hour = hour_of(event.created_at);
    for webhook in webhooks {
        let settings = &webhook.webhook.settings;
        if !settings.wants(&event.event_type) || !settings.in_scope(&event.scope) {
            continue;
        }
        let id = webhook.webhook.id.as_str();
        if require_verification && !webhook.verified() {
            route.skipped.push((id, hour, Skip::Unverified));
            continue;
        }
        match webhook.accepts(event) {
            Ok(false) => route.skipped.push((id, hour, Skip::Condition)),
            Err(e) => {
                tracing::debug!(webhook = %id, error = %e, "condition could not be evaluated");
                route.skipped.push((id, hour, Skip::ConditionError));
            }
            Ok(true) => {
                if !settings.enabled {
                    route.skipped.push((id, hour, Skip::Held));
                }
                route.targets.push(webhook);
            }
        }
    }
    route
}

/// The start of the hour `at` falls in: statistics are kept per hour.
pub(crate) fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}
