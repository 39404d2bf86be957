//! `--database postgres://...`: every run gets a database of its own on that server,
//! made at the start and dropped at the end, so runs never see each other's backlog.

use anyhow::Context;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use std::str::FromStr;

pub struct FreshDatabase {
    server: PgConnectOptions,
    name: String,
    /// The URL the nodes are given.
    pub url: String,
}

impl FreshDatabase {
    pub async fn create(url: &str) -> anyhow::Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            anyhow::bail!("--database takes a postgres:// URL (SQLite is the default)");
        }
        let server = PgConnectOptions::from_str(url).context("reading --database")?;
        let name = format!("postbode_bench_{}", std::process::id());
        let mut connection = PgConnection::connect_with(&server)
            .await
            .context("connecting to --database")?;
        // Left over from a run that was killed: it is this process id's, so no one uses it.
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut connection)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .with_context(|| format!("creating the database {name} (may the user create databases?)"))?;
        let mut node_url = url::Url::parse(url).context("reading --database")?;
        node_url.set_path(&name);
        Ok(Self {
            server,
            name,
            url: node_url.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, after the nodes have stopped.
    pub async fn drop_database(self) -> anyhow::Result<()> {
        let mut connection = PgConnection::connect_with(&self.server).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&mut connection)
            .await?;
        Ok(())
    }
}
