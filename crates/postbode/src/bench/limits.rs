//! The adaptive limit each measured webhook's engine converged to: sampled while the run
//! goes on (an idle webhook's engine state is dropped), from `GET /v1/webhooks/{id}`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::api::Api;

/// Webhooks sampled at most, so that watching does not load the server being measured.
const SAMPLED: usize = 10;
const EVERY: Duration = Duration::from_secs(1);

/// A webhook's adaptive limit and its ceiling, when seen.
type Seen = Option<(u32, u32)>;

/// The last limit seen per sampled webhook, and its ceiling. Stops when dropped.
pub struct LimitWatch {
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LimitWatch {
    pub fn start(api: Api, key: Arc<str>, webhooks: &[String]) -> Self {
        let webhooks: Vec<String> = webhooks.iter().take(SAMPLED).cloned().collect();
        let seen = Arc::new(Mutex::new(vec![None; webhooks.len()]));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                let mut tick = tokio::time::interval(EVERY);
                loop {
                    tick.tick().await;
                    for (i, id) in webhooks.iter().enumerate() {
                        // A failed look is skipped; the next tick tries again.
                        if let Ok(Some(limit)) = api.webhook_limit(&key, id).await
                            && let Ok(mut seen) = seen.lock()
                        {
                            seen[i] = Some(limit);
                        }
                    }
                }
            }
        });
        Self { seen, task }
    }

    /// `limit 48 of 64` (one webhook) or `limit 12–64 of 64 (10 webhooks sampled)`.
    pub fn summary(&self) -> String {
        let seen: Vec<(u32, u32)> = self
            .seen
            .lock()
            .map(|seen| seen.iter().flatten().copied().collect())
            .unwrap_or_default();
        describe(&seen)
    }
}

impl Drop for LimitWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn describe(seen: &[(u32, u32)]) -> String {
    let (Some(low), Some(high), Some(ceiling)) = (
        seen.iter().map(|s| s.0).min(),
        seen.iter().map(|s| s.0).max(),
        seen.iter().map(|s| s.1).max(),
    ) else {
        return "not seen (the run was shorter than a sample)".to_owned();
    };
    let range = match low == high {
        true => low.to_string(),
        false => format!("{low}–{high}"),
    };
    match seen.len() {
        1 => format!("{range} of max_concurrency {ceiling}"),
        n => format!("{range} of max_concurrency {ceiling} ({n} webhooks sampled)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_a_range() {
        assert_eq!(describe(&[(48, 64)]), "48 of max_concurrency 64");
        assert_eq!(
            describe(&[(12, 64), (64, 64)]),
            "12–64 of max_concurrency 64 (2 webhooks sampled)"
        );
        assert!(describe(&[]).starts_with("not seen"));
    }
}
