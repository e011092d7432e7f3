//! `simpleenroll` and `simplereenroll`: a checked request, an enrollment key spent or a device
//! certificate presented, a certificate of the device CA issued, recorded and audited. Every
//! refusal goes to the security log.

use super::csr::{self, Checked};
use super::{Device, DeviceRefusal, Est, Refusal};
use crate::audit::{self, Actor, Record};
use crate::db::rfc3339;
use crate::on_backend;
use crate::workers::unix_millis;
use app::model::Area;

const DAY: i64 = 86_400_000;
/// A device certificate's lifetime: a year, never beyond the device CA's.
pub const DEVICE_CERT_DAYS: i64 = 365;

/// Why an enrollment was refused, and with which status.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The request itself (400).
    #[error("{0}")]
    BadRequest(String),
    /// The enrollment key (401 when unknown, else 403).
    #[error(transparent)]
    Key(#[from] Refusal),
    /// The device certificate of a re-enrollment (401 when none, else 403).
    #[error(transparent)]
    Device(#[from] DeviceRefusal),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// An issued certificate.
#[derive(Debug)]
pub struct Issued {
    pub der: Vec<u8>,
    pub serial: String,
    pub subject: String,
    /// Unix milliseconds.
    pub not_after: i64,
}

/// What authorised an enrollment.
enum Authority<'a> {
    /// A first enrollment: the key's id and secret.
    Key(&'a str, &'a str),
    /// A re-enrollment: the certificate it replaces.
    Renewal(&'a Device),
}

impl Est {
    /// A first enrollment authorised by the enrollment key `key_id` with `secret`. The request
    /// is checked before the key is spent: a bad request costs no use.
    pub async fn simple_enroll(
        &self,
        key_id: &str,
        secret: &str,
        body: &[u8],
        source: Option<String>,
    ) -> Result<Issued, EnrollError> {
        let source_ref = &source;
        let refused = |reason: String| async move {
            self.refused("enrollment refused", Some(key_id), source_ref, &reason)
                .await;
        };
        // the key is looked at first (an unknown caller costs no signature check) and spent
        // only when the certificate is recorded: a refused request costs no use
        if !super::keys::well_formed(key_id) {
            refused(Refusal::Unknown.to_string()).await;
            return Err(Refusal::Unknown.into());
        }
        if let Err(refusal) = super::keys::check(&self.db, key_id, secret).await {
            refused(refusal.to_string()).await;
            return Err(refusal.into());
        }
        let request = match csr::unbase64(body).and_then(csr::check) {
            Ok(request) => request,
            Err(reason) => {
                refused(reason.clone()).await;
                return Err(EnrollError::BadRequest(reason));
            }
        };
        let issued = self.issue(&request)?;
        let actor = Actor {
            name: format!("enrollment key {key_id}"),
            source: source.clone(),
        };
        let recorded = self
            .record(&actor, &request, &issued, Authority::Key(key_id, secret))
            .await;
        if let Err(EnrollError::Key(refusal)) = &recorded {
            refused(refusal.to_string()).await;
        }
        recorded?;
        tracing::info!(serial = %issued.serial, subject = %issued.subject, key = key_id, "enrolled");
        Ok(issued)
    }

    /// A re-enrollment of the device that presented its certificate: the request must name the
    /// same subject (RFC 7030 §4.2.2). The old certificate stays valid until it expires or is
    /// revoked, so a device that lost the answer can try again.
    pub async fn simple_reenroll(
        &self,
        device: &Device,
        body: &[u8],
        source: Option<String>,
    ) -> Result<Issued, EnrollError> {
        let checked = csr::unbase64(body)
            .and_then(csr::check)
            .and_then(|request| {
                if request.names == device.names {
                    Ok(request)
                } else {
                    Err(format!(
                        "a re-enrollment must keep the subject of the certificate it renews ({}), \
                     not {}",
                        device.subject, request.subject
                    ))
                }
            });
        let request = match checked {
            Ok(request) => request,
            Err(reason) => {
                self.refused(
                    "re-enrollment refused",
                    Some(&device.subject),
                    &source,
                    &reason,
                )
                .await;
                return Err(EnrollError::BadRequest(reason));
            }
        };
        let issued = self.issue(&request)?;
        let actor = Actor {
            name: format!("device {}", device.subject),
            source,
        };
        self.record(&actor, &request, &issued, Authority::Renewal(device))
            .await?;
        tracing::info!(serial = %issued.serial, renews = %device.serial, "re-enrolled");
        Ok(issued)
    }

    /// Signs on this thread: one P-256 signature takes well under the time a hop to another
    /// thread and back costs.
    fn issue(&self, request: &Checked) -> anyhow::Result<Issued> {
        let ca = self.tls.device()?;
        let now = unix_millis();
        // whole seconds, as the certificate holds it
        let not_after = (now + DEVICE_CERT_DAYS * DAY).min(ca.not_after) / 1000 * 1000;
        let (der, serial) = csr::issue(request, &ca.der, &ca.key, now - 60 * 60 * 1000, not_after)
            .map_err(|e| anyhow::anyhow!(e))?;
        // what the certificate says, as it says it
        let subject = crate::tls::pki::facts(&der)
            .map_err(|e| anyhow::anyhow!(e))?
            .subject;
        Ok(Issued {
            der,
            serial,
            subject,
            not_after,
        })
    }

    async fn record(
        &self,
        actor: &Actor,
        request: &Checked,
        issued: &Issued,
        authority: Authority<'_>,
    ) -> Result<(), EnrollError> {
        let mut tx = self.db.begin().await.map_err(anyhow::Error::from)?;
        let (key, renews, action) = match authority {
            Authority::Key(id, secret) => {
                super::keys::spend_in(&mut tx, id, secret).await?;
                (Some(id), None, "enroll")
            }
            Authority::Renewal(device) => {
                // written first: a revocation of the renewed certificate commits before this
                // (and the renewal is refused) or waits for it (and revokes both)
                let still_good = on_backend!(&mut tx, tx => sqlx::query(
                    "UPDATE device_certificates SET revoked_at = revoked_at \
                     WHERE serial = $1 AND revoked_at IS NULL")
                    .bind(&device.serial)
                    .execute(&mut **tx)
                    .await
                    .map(|r| r.rows_affected()))
                .map_err(anyhow::Error::from)?;
                if still_good == 0 {
                    return Err(DeviceRefusal::RevokedMeanwhile.into());
                }
                (None, Some(device.serial.as_str()), "re-enroll")
            }
        };
        let device_id = super::devices::device_named(&mut tx, &request.cn)
            .await
            .map_err(anyhow::Error::from)?;
        on_backend!(&mut tx, tx => sqlx::query(
            "INSERT INTO device_certificates (serial, subject, der, not_after, issued_at, \
             enrollment_key, renews, device_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&issued.serial)
            .bind(&issued.subject)
            .bind(&issued.der)
            .bind(issued.not_after)
            .bind(unix_millis())
            .bind(key)
            .bind(renews)
            .bind(device_id)
            .execute(&mut **tx)
            .await
            .map(|_| ()))
        .map_err(anyhow::Error::from)?;
        audit::record(
            &mut tx,
            actor,
            Area::Certificates,
            action,
            &[Record::new(
                format!("enrollment.certificates.{}", issued.serial),
                serde_json::Value::Null,
                serde_json::json!({
                    "subject": issued.subject,
                    "not_after": rfc3339(issued.not_after),
                    "renews": renews,
                    "device_id": device_id,
                }),
            )],
        )
        .await
        .map_err(anyhow::Error::from)?;
        super::commit(tx, &self.bus)
            .await
            .map_err(anyhow::Error::from)?;
        Ok(())
    }
}
