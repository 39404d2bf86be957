//! The metrics recorder keeps each histogram sample until it is folded into the
//! histogram's buckets. Nobody scrapes `/metrics` here, so only the recorder's own
//! upkeep can fold them: without it a service's memory grew by every delivery's attempt
//! duration and every write group's figures, for good.
//!
//! This test binary counts the bytes its heap holds (a counting global allocator), so
//! the growth is measured, not guessed from the process's resident set.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; only the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const MIB: isize = 1 << 20;

#[test]
fn histogram_samples_are_folded_away_without_a_scrape() {
    let _handle = postbode_server::telemetry::recorder();
    let record = || metrics::histogram!("postbode_upkeep_test_seconds").record(0.004);
    record();
    let before = live();
    // Samples are held until folded: record until they visibly take memory (a million
    // is about 16 MiB), which also proves this test sees them.
    let mut recorded = 0;
    while live() - before < 8 * MIB {
        assert!(
            recorded < 20_000_000,
            "20 million samples took no memory: is the recorder installed?"
        );
        for _ in 0..10_000 {
            record();
        }
        recorded += 10_000;
    }
    // The upkeep folds them into buckets and frees them. Recording goes on meanwhile, as
    // it does in a running service (it also lets the freed blocks be reclaimed).
    let limit = postbode_server::telemetry::UPKEEP_EVERY * 12;
    let started = Instant::now();
    while live() - before > MIB {
        assert!(
            started.elapsed() < limit,
            "{recorded} histogram samples still hold {} KiB after {limit:?}: nothing folds them",
            (live() - before) / 1024
        );
        record();
        std::thread::sleep(Duration::from_millis(10));
    }
}
