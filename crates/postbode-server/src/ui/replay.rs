//! Replays in the dashboard: the delivery log's "Resend the N deliveries of this
//! filter" and the webhook page's "Replay missing events" make a job (the same function
//! as `POST /v1/webhooks/{id}/replay`); the job's page shows its progress and refreshes
//! itself until it ends.

use askama::Template;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use postbode_store::{DeliveryStatus, JobStatus, ReplayJob, ReplaySelection};

use super::flash::Flash;
use super::log::moment;
use super::page::{Chrome, Time, UiResult, render};
use super::session::{AccountSession, Posted};
use crate::problem::ApiError;
use crate::routes::replay::{find_job, start};
use crate::routes::webhooks::find;
use crate::state::AppState;

/// The selection a replay form names: `kind=filter` (the log's filter fields: resend
/// what it shows) or `kind=missing` (`replay_since`, `replay_until`: events without a
/// delivery).
fn selection(form: &super::form::FormData, now: DateTime<Utc>) -> Result<ReplaySelection, ApiError> {
    if form.text("kind") == "missing" {
        let since = moment("replay_since", &form.text("replay_since"))?
            .ok_or_else(|| ApiError::field("replay_since", "choose the time to replay from"))?;
        let until = moment("replay_until", &form.text("replay_until"))?
            .unwrap_or(now)
            .min(now);
        if since > until {
            return Err(ApiError::field("replay_since", "must not be after Until"));
        }
        return Ok(ReplaySelection {
            since,
            until,
            resend: false,
            statuses: Vec::new(),
            event_types: Vec::new(),
            missing: true,
        });
    }
    let since = moment("since", &form.text("since"))?.unwrap_or(DateTime::UNIX_EPOCH);
    let until = moment("until", &form.text("until"))?.unwrap_or(now).min(now);
    let status = form.text("status");
    let statuses = match status.trim() {
        "" => Vec::new(),
        text => vec![DeliveryStatus::parse(text).ok_or_else(|| ApiError::field("status", "not a status"))?],
    };
    let event_type = form.text("event_type").trim().to_owned();
    Ok(ReplaySelection {
        since,
        until,
        resend: true,
        statuses,
        event_types: if event_type.is_empty() {
            Vec::new()
        } else {
            vec![event_type]
        },
        missing: false,
    })
}

/// `POST /ui/webhooks/{id}/replay`: makes the job and shows its page.
pub async fn replay(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    posted
        .once(async {
            let account = &posted.session.account_id;
            let back = match posted.form.text("kind").as_str() {
                "missing" => format!("/ui/webhooks/{id}"),
                _ => format!("/ui/webhooks/{id}/log"),
            };
            let made = match selection(&posted.form, state.clock.now()) {
                Ok(selection) => start(&state, account, &id, selection).await,
                Err(e) => Err(e),
            };
            match made {
                Ok(job) => {
                    let text = match job.total {
                        1 => "Replay started: 1 delivery or event to send.".to_owned(),
                        n => format!("Replay started: {n} deliveries and events to send."),
                    };
                    posted.redirect(&state, &format!("/ui/jobs/{}", job.id), Flash::ok(text))
                }
                Err(ApiError::Invalid(v)) => {
                    let words: Vec<String> = v.errors.into_iter().map(|e| e.message).collect();
                    posted.redirect(&state, &back, Flash::bad(format!("Not replayed: {}", words.join("; "))))
                }
                Err(ApiError::Conflict(why)) => {
                    posted.redirect(&state, &back, Flash::bad(format!("Not replayed: {why}")))
                }
                Err(other) => Err(other.into()),
            }
        })
        .await
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    chrome: Chrome,
    job: ReplayJob,
    webhook_url: String,
    created: Time,
    since: Time,
    until: Time,
}

impl JobPage {
    fn running(&self) -> bool {
        self.job.status == JobStatus::Running
    }

    fn status(&self) -> &'static str {
        self.job.status.as_str()
    }

    /// What the job looks at, in words.
    fn what(&self) -> String {
        let s = &self.job.selection;
        let mut parts = Vec::new();
        if s.resend {
            let statuses: Vec<&str> = s.statuses.iter().map(|s| s.as_str()).collect();
            parts.push(match statuses.is_empty() {
                true => "every delivery".to_owned(),
                false => format!("the {} deliveries", statuses.join(", ")),
            });
        }
        if s.missing {
            parts.push("the events it never had".to_owned());
        }
        let mut what = parts.join(" and ");
        if !s.event_types.is_empty() {
            what.push_str(&format!(" of type {}", s.event_types.join(", ")));
        }
        what
    }

    fn tone(&self) -> &'static str {
        match self.job.status {
            JobStatus::Running => "warn",
            JobStatus::Done => "ok",
            JobStatus::Failed => "bad",
        }
    }
}

/// `/ui/jobs/{id}`: a job's progress.
pub async fn page(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    let job = find_job(&state, &session.account_id, &id).await?;
    let webhook = find(&state, &session.account_id, &job.webhook_id).await?;
    Ok(render(&JobPage {
        chrome: session.chrome(format!("Replay {}", job.id), "webhooks"),
        webhook_url: webhook.settings.url,
        created: Time(job.created_at),
        since: Time(job.selection.since),
        until: Time(job.selection.until),
        job,
    }))
}
