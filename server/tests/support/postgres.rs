//! A PostgreSQL database made for one test or benchmark run and dropped after it. Shared by the
//! API tests and the benchmark harness (each includes this file).
//!
//! The server comes from `PHAROS_TEST_POSTGRES_URL` (default: the local `test` database). An
//! unreachable server fails the caller: it is never skipped.

use sqlx::{Connection, Executor, PgConnection};

pub fn admin_url() -> String {
    std::env::var("PHAROS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub struct PgDatabase {
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// A new, empty database named `pharos_<purpose>_<unique>`.
    pub async fn create(purpose: &str) -> PgDatabase {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is needed here (set PHAROS_TEST_POSTGRES_URL): {e}")
        });
        let name = format!("pharos_{purpose}_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create the database");
        let base = admin.rsplit_once('/').expect("URL has a database").0;
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a runtime that cannot be blocked; a thread with a short-lived one
        // does the clean-up.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}
