//! Mail events (opens, clicks, delivery reports, bounces, failures, abuse reports,
//! unsubscribes): one path for all of them. The message is read with its profile data
//! inside the group that stores the event, so the body shows the profile as it is when
//! the event is committed; an unsubscribe commits together with what the database's
//! and the collection's unsubscribe behaviour does to the profile and subprofile.

use postbode_core::mail::MailEvent;
use postbode_core::profile::{Edit, UnsubscribeBehaviour};
use postbode_core::webhook::Source;

use super::group::Group;
use crate::backend::GroupTx;
use crate::model::*;
use crate::{Result, StoreError};

impl Group {
    /// Stores the event of a message whose context was read in this group; `None` when
    /// there is no such message (in the request's account, when it names one).
    pub async fn mail_event(
        &mut self,
        tx: &mut dyn GroupTx,
        request: MailRequest,
        context: Option<&MessageContext>,
    ) -> Result<Option<Ingested>> {
        let Some(context) = context.filter(|c| {
            request
                .account_id
                .as_ref()
                .is_none_or(|account| *account == c.message.account_id)
        }) else {
            return Ok(None);
        };
        let account_id = context.message.account_id.clone();
        let event = context.event(&request.event, request.now);
        if !matches!(request.event, MailEvent::Unsubscribe) {
            self.webhooks_of(tx, &account_id).await?;
            return Ok(Some(self.route_and_stage(
                &account_id,
                event,
                request.require_verification,
            )));
        }
        let mut changes = vec![Change::Event(Box::new(event))];
        changes.extend(unsubscribe_changes(context));
        let outcomes = self
            .change(
                tx,
                ChangeRequest {
                    account_id,
                    source: Source::Unsubscribe,
                    changes,
                    now: request.now,
                    require_verification: request.require_verification,
                },
            )
            .await?;
        match outcomes.into_iter().next() {
            Some(ChangeOutcome::Ingested(ingested)) => Ok(Some(ingested)),
            _ => Err(StoreError::Invalid("the unsubscribe event was not stored".into())),
        }
    }
}

/// What the collection's and the database's unsubscribe behaviours do to the message's
/// subprofile and profile (those changes fire with source `unsubscribe`).
fn unsubscribe_changes(context: &MessageContext) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Some((subprofile, collection)) = &context.subprofile {
        match &collection.unsubscribe {
            UnsubscribeBehaviour::Nothing => {}
            UnsubscribeBehaviour::Remove => changes.push(Change::DeleteSubprofile {
                id: subprofile.id.clone(),
            }),
            UnsubscribeBehaviour::Update { fields } => changes.push(Change::EditSubprofile {
                id: subprofile.id.clone(),
                edit: Edit::Merge,
                values: fields.clone(),
            }),
        }
    }
    if let Some((profile, database)) = &context.profile {
        match &database.unsubscribe {
            UnsubscribeBehaviour::Nothing => {}
            UnsubscribeBehaviour::Remove => changes.push(Change::DeleteProfile { id: profile.id.clone() }),
            UnsubscribeBehaviour::Update { fields } => changes.push(Change::EditProfile {
                id: profile.id.clone(),
                edit: Edit::Merge,
                values: fields.clone(),
                interests: None,
            }),
        }
    }
    changes
}
