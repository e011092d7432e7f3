//! Device enrollment over EST (RFC 7030): the one-time keys that authorise a device's first
//! enrollment. (The EST operations themselves follow.)

pub mod api;
mod keys;

use crate::db::Db;
use crate::http::ApiError;
use app::api::{CreatedEnrollmentKey, EnrollmentKeyList, NewEnrollmentKey};
use std::sync::Arc;

pub use keys::Refusal;

pub struct Est {
    db: Db,
}

impl Est {
    pub fn new(db: Db) -> Arc<Est> {
        Arc::new(Est { db })
    }

    pub async fn create_key(
        &self,
        actor: &crate::audit::Actor,
        request: NewEnrollmentKey,
    ) -> Result<CreatedEnrollmentKey, ApiError> {
        keys::create(&self.db, actor, request).await
    }

    pub async fn keys(&self) -> Result<EnrollmentKeyList, ApiError> {
        keys::list(&self.db).await
    }

    pub async fn revoke_key(&self, actor: &crate::audit::Actor, id: &str) -> Result<(), ApiError> {
        keys::revoke(&self.db, actor, id).await
    }

    /// Spends one use of the key `id` if `secret` is its secret and it is still good; why not,
    /// otherwise. What an EST client's HTTP Basic credentials are checked with.
    pub async fn spend_key(&self, id: &str, secret: &str) -> Result<(), Refusal> {
        keys::spend(&self.db, id, secret).await
    }
}
