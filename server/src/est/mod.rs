//! Device enrollment over EST (RFC 7030, with RFC 8951's base64): the one-time keys that
//! authorise a device's first enrollment, `cacerts`, `simpleenroll`, `simplereenroll` and
//! `csrattrs` under `/.well-known/est` (and the enrollment address's path prefix), certificates
//! issued by the device CA of the certificates area; the devices' certificates, their
//! revocation and the CRL; devices known by the certificate they present.

pub mod api;
mod crl;
pub mod csr;
mod devices;
mod enroll;
mod keys;
pub mod page;
pub mod prefix;

use crate::cluster::{Bus, Remote, Topic};
use crate::db::{Backend, Db, DbError, Tx};
use crate::http::ApiError;
use crate::workers::Workers;
use app::api::{CreatedEnrollmentKey, EnrollmentKeyList, LiveEvent, NewEnrollmentKey};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

pub use devices::{Device, DeviceRefusal};
pub use enroll::{EnrollError, Issued};
pub use keys::Refusal;

pub struct Est {
    db: Db,
    bus: Bus,
    tls: Arc<crate::tls::Tls>,
}

/// Commits a change of keys or device certificates and lets every server's pages know.
async fn commit(mut tx: Tx, bus: &Bus) -> Result<(), DbError> {
    bus.notify(&mut tx, Topic::Enrollment, None).await?;
    let sqlite = matches!(tx, Backend::Sqlite(_));
    tx.commit().await?;
    // on PostgreSQL the notification comes back to this server too: the follower publishes
    if sqlite {
        bus.publish(LiveEvent::EnrollmentChanged);
    }
    Ok(())
}

impl Est {
    pub fn new(db: Db, bus: Bus, tls: Arc<crate::tls::Tls>, workers: &Workers) -> Arc<Est> {
        let est = Arc::new(Est { db, bus, tls });
        if matches!(est.db.pool, Backend::Postgres(_)) {
            est.follow(workers);
        }
        est
    }

    /// Changes committed by any server sharing the database reach this server's pages.
    fn follow(&self, workers: &Workers) {
        let mut remote = self.bus.follow();
        let bus = self.bus.clone();
        workers.spawn("enrollment-follower", async move {
            loop {
                match remote.recv().await {
                    Ok(Remote::Changed(Topic::Enrollment, _))
                    | Ok(Remote::Reconnected)
                    | Err(RecvError::Lagged(_)) => bus.publish(LiveEvent::EnrollmentChanged),
                    Ok(_) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    /// The device CA's chain as EST's `cacerts` answers it: certs-only PKCS#7, DER.
    pub async fn ca_certs(&self) -> anyhow::Result<Vec<u8>> {
        let ca = self.tls.device()?;
        csr::certs_only(std::slice::from_ref(&ca.der)).map_err(|e| anyhow::anyhow!(e))
    }

    pub async fn create_key(
        &self,
        actor: &crate::audit::Actor,
        request: NewEnrollmentKey,
    ) -> Result<CreatedEnrollmentKey, ApiError> {
        keys::create(&self.db, &self.bus, actor, request).await
    }

    pub async fn keys(&self) -> Result<EnrollmentKeyList, ApiError> {
        keys::list(&self.db).await
    }

    pub async fn revoke_key(&self, actor: &crate::audit::Actor, id: &str) -> Result<(), ApiError> {
        keys::revoke(&self.db, &self.bus, actor, id).await
    }
}
