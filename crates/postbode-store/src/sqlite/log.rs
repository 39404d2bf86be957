//! Reading the delivery log: a webhook's deliveries, filtered and paged.

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::{page_limit, rows};
use crate::Result;
use crate::model::{Delivery, DeliveryQuery};
use postbode_core::page::Page;

/// See [`crate::Store::list_deliveries`].
pub async fn list_deliveries(pool: &SqlitePool, account_id: &str, query: &DeliveryQuery) -> Result<Page<Delivery>> {
    let mut q = QueryBuilder::<Sqlite>::new("SELECT ");
    q.push(rows::prefixed("d", rows::DELIVERY_COLUMNS, ""));
    q.push(" FROM deliveries d");
    if let Some(event_type) = &query.event_type {
        q.push(" JOIN events e ON e.id = d.event_id AND e.type = ")
            .push_bind(event_type);
    }
    q.push(" WHERE d.webhook_id = ").push_bind(&query.webhook_id);
    q.push(" AND d.account_id = ").push_bind(account_id);
    if let Some(after) = &query.page.after {
        q.push(" AND d.id < ").push_bind(after);
    }
    if let Some(status) = query.status {
        q.push(" AND d.status = ").push_bind(status.as_str());
    }
    if let Some(since) = query.since {
        q.push(" AND d.created_at >= ").push_bind(rows::ms(since));
    }
    if let Some(until) = query.until {
        q.push(" AND d.created_at < ").push_bind(rows::ms(until));
    }
    q.push(" ORDER BY d.id DESC LIMIT ").push_bind(page_limit(&query.page));
    let found = q.build().fetch_all(pool).await?;
    let deliveries = found.iter().map(rows::delivery).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(deliveries, query.page.limit, |d| &d.id))
}
