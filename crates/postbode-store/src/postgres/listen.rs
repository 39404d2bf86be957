//! Wakes this node's engine when any node commits due deliveries (LISTEN/NOTIFY).

use sqlx::postgres::{PgListener, PgPool};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use super::WORK_CHANNEL;

/// After a lost connection, listening starts again after this long; meanwhile the
/// engine's polling finds the work.
const RETRY: Duration = Duration::from_secs(1);

pub(super) async fn wake_on_notify(pool: PgPool, work: Arc<Notify>) {
    loop {
        match listen(&pool, &work).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "listening for other nodes' work stopped; starting again");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

async fn listen(pool: &PgPool, work: &Notify) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(WORK_CHANNEL).await?;
    loop {
        // `try_recv` answers `None` when the connection was lost (and reconnects on
        // the next call): notifications sent meanwhile are missed, so wake anyway.
        if listener.try_recv().await?.is_none() {
            tracing::debug!("reconnecting the work listener");
        }
        work.notify_one();
    }
}
