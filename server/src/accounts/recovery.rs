//! Recovery of an account by someone else: a password reset and a lock-out lifted (the
//! Accounts page's superuser and the command line do both).

use super::{Accounts, now, secret, security, sessions, store, throttle};
use crate::audit::{self, Actor, Record};
use crate::db::DbError;
use crate::http::ApiError;
use app::model::{Area, FieldError};

impl Accounts {
    /// Sets an account's password (checked against the rules), ends its sessions and revokes its
    /// tokens: whoever knew the old password may have made some.
    pub async fn reset_password(
        &self,
        id: i64,
        username: &str,
        password: String,
        actor: &Actor,
    ) -> Result<(), ApiError> {
        app::model::check_password(&password, username)
            .map_err(|e| ApiError::Invalid(vec![FieldError::new("password", e)]))?;
        let hash = secret::hash_password(password).await?;
        let mut tx = self.db.begin().await?;
        store::set_password(&mut tx, id, &hash).await?;
        audit::record(
            &mut tx,
            actor,
            Area::Accounts,
            "reset password",
            &[Record::new(
                format!("accounts.users.{username}.password"),
                "(hidden)",
                "(a new one, hidden)",
            )],
        )
        .await?;
        tx.commit().await?;
        sessions::end_sessions(&self.db, id, None).await?;
        sessions::revoke_tokens(&self.db, id).await?;
        self.changed().await;
        security::record(
            &self.db,
            security::Event {
                event: "password_reset",
                username: Some(username),
                actor: Some(&actor.name),
                source: actor.source.clone(),
                ..Default::default()
            },
        )
        .await;
        Ok(())
    }

    /// Lifts an account's lock-out after failed sign-ins; `false` if it was not locked out.
    pub async fn unlock_user(&self, username: &str, actor: &Actor) -> Result<bool, DbError> {
        if !throttle::clear(&self.db, &throttle::user_key(username), now()).await? {
            return Ok(false);
        }
        self.changed().await;
        security::record(
            &self.db,
            security::Event {
                event: "unlocked",
                username: Some(username),
                actor: Some(&actor.name),
                source: actor.source.clone(),
                detail: Some("the account".into()),
            },
        )
        .await;
        Ok(true)
    }
}
