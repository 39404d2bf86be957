//! Several checks in one browser session: each runs in turn, and the test fails at the
//! end naming every check that failed, so one failure hides none of the others.

use futures_util::FutureExt;
use std::any::Any;

/// What a check's panic said.
pub fn panic_message(panic: Box<dyn Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Runs `check` and returns its failure, if any.
pub async fn outcome(name: &str, check: impl Future<Output = ()>) -> Option<String> {
    println!("check {name}");
    match std::panic::AssertUnwindSafe(check).catch_unwind().await {
        Ok(()) => None,
        Err(panic) => Some(format!("{name}: {}", panic_message(panic))),
    }
}

/// `checks!(context, check_a, check_b, ...)`: each `check(&mut context)` in turn, then a
/// failure naming every check that failed.
macro_rules! checks {
    ($context:expr, $($check:ident),+ $(,)?) => {{
        let mut failed: Vec<String> = Vec::new();
        $(
            if let Some(failure) = $crate::checks::outcome(stringify!($check), $check(&mut $context)).await {
                failed.push(failure);
            }
        )+
        assert!(failed.is_empty(), "{} check(s) failed:\n{}", failed.len(), failed.join("\n"));
    }};
}

pub(crate) use checks;
