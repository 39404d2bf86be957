//! PostgreSQL (in progress).
pub struct PgStore;
impl PgStore {
    pub async fn open(url: &str) -> crate::Result<std::sync::Arc<dyn crate::Store>> {
        Err(crate::StoreError::UnsupportedUrl(url.to_owned()))
    }
}
