//! The accounts, own-account and audit pages' data, read while the server renders them.

use super::{Accounts, security, sessions, throttle};
use app::api::{AccountList, AuditPage, AuditQuery, Lockout, LockoutList, SecurityPage, TokenList};
use app::{AccountsBackend, BoxFuture};
use std::sync::Arc;

pub struct Pages(pub Arc<Accounts>);

fn text<E: std::fmt::Display>(e: E) -> String {
    tracing::error!(error = %e, "reading a page's data failed");
    "the data could not be read".to_owned()
}

impl AccountsBackend for Pages {
    fn accounts(&self) -> BoxFuture<Result<AccountList, String>> {
        let accounts = self.0.clone();
        Box::pin(async move { super::api::account_list(&accounts).await.map_err(text) })
    }

    fn lockouts(&self) -> BoxFuture<Result<LockoutList, String>> {
        let accounts = self.0.clone();
        Box::pin(async move {
            let mut lockouts: Vec<Lockout> = throttle::locks(accounts.db(), "ip:", super::now())
                .await
                .map_err(text)?
                .into_iter()
                .map(|(address, until)| Lockout {
                    address,
                    locked_until: crate::db::rfc3339(until),
                })
                .collect();
            lockouts.sort_by(|a, b| a.address.cmp(&b.address));
            Ok(LockoutList { lockouts })
        })
    }

    fn tokens(&self, user: i64) -> BoxFuture<Result<TokenList, String>> {
        let accounts = self.0.clone();
        Box::pin(async move { sessions::tokens(accounts.db(), user).await.map_err(text) })
    }

    fn audit(&self, query: AuditQuery) -> BoxFuture<Result<AuditPage, String>> {
        let accounts = self.0.clone();
        Box::pin(async move {
            crate::audit::page(accounts.db(), &query)
                .await
                .map_err(text)?
        })
    }

    fn security_log(&self, query: AuditQuery) -> BoxFuture<Result<SecurityPage, String>> {
        let accounts = self.0.clone();
        Box::pin(async move { security::page(accounts.db(), &query).await.map_err(text)? })
    }
}
