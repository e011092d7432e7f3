//! Device enrollment over EST (RFC 7030, with RFC 8951's base64): the one-time keys that
//! authorise a device's first enrollment, `cacerts`, `simpleenroll` and `csrattrs` under
//! `/.well-known/est`, certificates issued by the device CA of the certificates area.

pub mod api;
pub mod csr;
mod enroll;
mod keys;

use crate::db::Db;
use crate::http::ApiError;
use app::api::{CreatedEnrollmentKey, EnrollmentKeyList, NewEnrollmentKey};
use std::sync::Arc;

pub use enroll::{EnrollError, Issued};
pub use keys::Refusal;

pub struct Est {
    db: Db,
    tls: Arc<crate::tls::Tls>,
}

impl Est {
    pub fn new(db: Db, tls: Arc<crate::tls::Tls>) -> Arc<Est> {
        Arc::new(Est { db, tls })
    }

    /// The device CA's chain as EST's `cacerts` answers it: certs-only PKCS#7, DER.
    pub async fn ca_certs(&self) -> anyhow::Result<Vec<u8>> {
        let (ca, _) = self.tls.device_ca().await?;
        csr::certs_only(&[ca]).map_err(|e| anyhow::anyhow!(e))
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
