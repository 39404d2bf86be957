//! Remembers the nonces of accepted calls for a window, so a captured call cannot be
//! played again while its `Date` is still fresh.
//!
//! Bounded twice: entries older than the window are dropped (a queue in arrival order
//! makes that cheap), and past `max_entries` the oldest go first. A flood beyond the
//! cap therefore shortens the window; the cap is sized so that takes more calls than a
//! receiver accepts in its window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::Error;

pub const DEFAULT_WINDOW_SECONDS: i64 = 300;
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// Shareable between threads (`&self` methods, a lock inside).
#[derive(Debug)]
pub struct NonceCache {
    window_seconds: i64,
    max_entries: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW_SECONDS, DEFAULT_MAX_ENTRIES)
    }
}

impl NonceCache {
    /// `window_seconds` must cover how long a call stays acceptable (its max age plus
    /// the allowed clock skew), or a replay could slip in after its nonce was forgotten.
    pub fn new(window_seconds: i64, max_entries: usize) -> Self {
        Self {
            window_seconds: window_seconds.max(1),
            max_entries: max_entries.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn window_seconds(&self) -> i64 {
        self.window_seconds
    }

    /// Records `nonce` as seen at `now`; `Err(ReplayedNonce)` when it was seen within the window.
    pub fn check_and_insert(&self, nonce: &str, now: i64) -> Result<(), Error> {
        // A poisoned lock only means another thread panicked mid-insert; the maps stay
        // consistent enough (at worst an entry without its twin), so keep serving.
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.evict(now - self.window_seconds, usize::MAX);
        if inner.seen.contains_key(nonce) {
            return Err(Error::ReplayedNonce);
        }
        inner.evict(i64::MIN, self.max_entries - 1);
        inner.seen.insert(nonce.to_owned(), now);
        inner.order.push_back((now, nonce.to_owned()));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .seen
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Drops entries seen at or before `expired_at`, then the oldest until at most `keep` remain.
    fn evict(&mut self, expired_at: i64, keep: usize) {
        while let Some((seen_at, _)) = self.order.front() {
            if *seen_at > expired_at && self.order.len() <= keep {
                break;
            }
            if let Some((seen_at, nonce)) = self.order.pop_front() {
                // Only forget the entry this queue slot stands for.
                if self.seen.get(&nonce) == Some(&seen_at) {
                    self.seen.remove(&nonce);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_nonce_seen_within_the_window_and_forgets_it_after() {
        let cache = NonceCache::new(60, 10);
        cache.check_and_insert("abc", 1000).unwrap();
        assert_eq!(cache.check_and_insert("abc", 1059), Err(Error::ReplayedNonce));
        cache.check_and_insert("abd", 1059).unwrap();
        cache.check_and_insert("abc", 1060).unwrap();
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn evicts_old_entries_as_time_passes() {
        let cache = NonceCache::new(10, 1000);
        for i in 0..100 {
            cache.check_and_insert(&format!("n{i}"), i).unwrap();
        }
        assert_eq!(cache.len(), 10);
    }

    #[test]
    fn never_holds_more_than_the_cap() {
        let cache = NonceCache::new(3600, 3);
        for nonce in ["a", "b", "c", "d"] {
            cache.check_and_insert(nonce, 5).unwrap();
        }
        assert_eq!(cache.len(), 3);
        // The oldest went first.
        cache.check_and_insert("a", 6).unwrap();
        assert_eq!(cache.check_and_insert("d", 6), Err(Error::ReplayedNonce));
    }
}
