//! A form acts once. Every form the dashboard renders carries a random `once` token;
//! the first request with it does the work, and every later one with the same token (a
//! double click, a reload that posts again, Back and submit) waits for the first and
//! gets its answer instead of acting again.
//!
//! The answers are kept in this node's memory, bounded in count, bytes and age: the
//! requests of one double click reach the same node, and after post/redirect/get a
//! reload asks for the page, not the form.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::page::{UiError, UiResult};

/// How long an answer is given again.
const KEPT: Duration = Duration::from_secs(600);
const MAX_ANSWERS: usize = 4_096;
const MAX_BYTES: usize = 16 << 20;
/// An answer larger than this is not kept (a later request acts again).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// An answer as it was sent.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn response(&self) -> Response {
        let mut response = (self.status, self.body.clone()).into_response();
        *response.headers_mut() = self.headers.clone();
        response
    }
}

enum Entry {
    /// The first request is at work; later ones wait for its answer.
    Working(watch::Receiver<Option<Arc<Answer>>>),
    Done(Arc<Answer>),
}

#[derive(Default)]
struct Answers {
    entries: HashMap<String, (Entry, Instant)>,
    /// Keys, oldest first, for eviction.
    order: VecDeque<String>,
    bytes: usize,
}

impl Answers {
    fn evict(&mut self, now: Instant) {
        while let Some(key) = self.order.front() {
            let expired = self
                .entries
                .get(key)
                .is_none_or(|(_, at)| now.duration_since(*at) > KEPT);
            if !expired && self.entries.len() <= MAX_ANSWERS && self.bytes <= MAX_BYTES {
                break;
            }
            let key = self.order.pop_front().unwrap_or_default();
            if let Some((Entry::Done(answer), _)) = self.entries.remove(&key) {
                self.bytes -= answer.body.len();
            }
        }
    }
}

static ANSWERS: LazyLock<Mutex<Answers>> = LazyLock::new(Mutex::default);

fn answers() -> MutexGuard<'static, Answers> {
    // A panic while holding the lock leaves the map consistent (each step is whole).
    ANSWERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `work` for the first request with `token` (bound to the session by `csrf`);
/// any other gets the first one's answer. No token (an old form): `work` runs.
pub async fn act(csrf: &str, token: Option<&str>, work: impl Future<Output = UiResult>) -> UiResult {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return work.await;
    };
    let key = format!("{csrf}.{token}");
    let sender = loop {
        let mut waiting = {
            let mut answers = answers();
            answers.evict(Instant::now());
            match answers.entries.get(&key) {
                Some((Entry::Done(answer), _)) => return Ok(answer.response()),
                Some((Entry::Working(receiver), _)) => receiver.clone(),
                None => {
                    let (sender, receiver) = watch::channel(None);
                    answers
                        .entries
                        .insert(key.clone(), (Entry::Working(receiver), Instant::now()));
                    answers.order.push_back(key.clone());
                    break sender;
                }
            }
        };
        // The first request answered, or gave up without an answer to share (then this
        // one tries itself).
        let _ = waiting.wait_for(Option::is_some).await;
        if let Some(answer) = waiting.borrow().clone() {
            return Ok(answer.response());
        }
    };
    let outcome = work.await;
    let kept = match outcome {
        Ok(response) => keep(response).await,
        Err(error) => Err(error),
    };
    let mut answers = answers();
    match &kept {
        Ok((_, Some(answer))) => {
            answers.bytes += answer.body.len();
            answers
                .entries
                .insert(key, (Entry::Done(answer.clone()), Instant::now()));
            let _ = sender.send(Some(answer.clone()));
        }
        _ => {
            answers.entries.remove(&key);
        }
    }
    drop(answers);
    kept.map(|(response, _)| response)
}

/// The response, and the answer to give again when it is small enough to keep.
async fn keep(response: Response) -> Result<(Response, Option<Arc<Answer>>), UiError> {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| UiError::Api(crate::problem::ApiError::Internal(format!("reading an answer: {e}"))))?;
    let answer = Arc::new(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    });
    Ok((answer.response(), Some(answer)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_token_acts_once_and_every_later_request_gets_the_first_answer() {
        let runs = Arc::new(AtomicUsize::new(0));
        let work = |runs: Arc<AtomicUsize>| async move {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok(super::super::page::see_other("/ui/done"))
        };
        let (first, second) = tokio::join!(
            act("csrf", Some("t1"), work(runs.clone())),
            act("csrf", Some("t1"), work(runs.clone())),
        );
        let third = act("csrf", Some("t1"), work(runs.clone())).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        for answer in [first, second, third] {
            let answer = answer.unwrap();
            assert_eq!(answer.status(), StatusCode::SEE_OTHER);
            assert_eq!(answer.headers()["location"], "/ui/done");
        }
        // Another session's token, or none, acts.
        act("other", Some("t1"), work(runs.clone())).await.unwrap();
        act("csrf", None, work(runs.clone())).await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_action_lets_the_next_request_try() {
        let failed = act("csrf", Some("t2"), async {
            Err(UiError::Api(crate::problem::ApiError::NotFound("webhook")))
        })
        .await;
        assert!(failed.is_err());
        let again = act("csrf", Some("t2"), async { Ok(super::super::page::see_other("/ui")) }).await;
        assert_eq!(again.unwrap().status(), StatusCode::SEE_OTHER);
    }
}
