//! Devices' certificates: the list, revocation (with a new CRL in the same transaction), and a
//! device known by the certificate it presents (to this server, or to a trusted proxy).

use super::Est;
use crate::accounts::security::{self, Event};
use crate::audit::{self, Actor, Record};
use crate::db::{DbError, Tx, rfc3339};
use crate::http::ApiError;
use crate::http::auth::Caller;
use crate::on_backend;
use crate::workers::unix_millis;
use app::api::{DeviceCertificate, DeviceCertificateList, DeviceCertificateState, PresentedVia};
use app::model::Area;
use x509_parser::prelude::*;

/// A device, as its certificate proves.
#[derive(Clone, Debug)]
pub struct Device {
    pub serial: String,
    pub subject: String,
    /// The subject as (attribute type, value) pairs.
    pub names: Vec<(String, String)>,
    pub not_after: i64,
    pub device_id: Option<i64>,
    pub via: PresentedVia,
}

/// Why a presented certificate is no device's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceRefusal {
    #[error(
        "a device certificate is needed: present it in the TLS handshake (or through a trusted proxy)"
    )]
    None,
    #[error("the certificate was not issued by this installation's device CA")]
    NotOurs,
    #[error("the certificate expired at {0}")]
    Expired(String),
    #[error("the certificate is not valid before {0}")]
    NotYetValid(String),
    #[error("the certificate was revoked at {0}")]
    Revoked(String),
    #[error("the certificate was revoked while the request was under way")]
    RevokedMeanwhile,
    #[error("the certificate is not one this installation issued over EST")]
    Unknown,
    #[error("device certificates cannot be checked now")]
    Unavailable,
}

/// One row of `device_certificates` as listed.
type Row = (
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

const COLUMNS: &str =
    "serial, subject, not_after, issued_at, revoked_at, enrollment_key, renews, device_id";

fn listed(row: Row, now: i64) -> DeviceCertificate {
    let (serial, subject, not_after, issued_at, revoked_at, enrollment_key, renews, device_id) =
        row;
    let state = DeviceCertificateState::at(revoked_at.is_some(), not_after, now);
    DeviceCertificate {
        serial,
        subject,
        not_after: rfc3339(not_after),
        issued_at: rfc3339(issued_at),
        state,
        revoked_at: revoked_at.map(rfc3339),
        enrollment_key,
        renews,
        device_id,
    }
}

/// The serial as stored: lower-case hex without separators.
pub fn normalize_serial(serial: &str) -> String {
    serial
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The device registered or scanned whose host name, serial number or MAC address is `name`.
pub(super) async fn device_named(tx: &mut Tx, name: &str) -> Result<Option<i64>, sqlx::Error> {
    on_backend!(tx, tx => sqlx::query_scalar(
        "SELECT id FROM devices WHERE lower(hostname) = lower($1) OR serial = $1 \
         OR lower(mac) = lower($1) ORDER BY id LIMIT 1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await)
}

impl Est {
    pub async fn device_certificates(&self) -> Result<DeviceCertificateList, ApiError> {
        let sql =
            format!("SELECT {COLUMNS} FROM device_certificates ORDER BY issued_at DESC, serial");
        let rows: Vec<Row> = on_backend!(&self.db.pool, pool => sqlx::query_as(&sql)
            .fetch_all(pool)
            .await)
        .map_err(DbError::from)?;
        let now = unix_millis();
        Ok(DeviceCertificateList {
            certificates: rows.into_iter().map(|row| listed(row, now)).collect(),
        })
    }

    /// Revokes a device certificate and every certificate that renewed it (what was got with a
    /// certificate goes with it): none can re-enroll nor reach the device routes, and the CRL is
    /// signed again with them in the same transaction.
    pub async fn revoke_certificate(
        &self,
        actor: &Actor,
        serial: &str,
    ) -> Result<DeviceCertificate, ApiError> {
        let serial = normalize_serial(serial);
        let ca = self.tls.device()?;
        let now = unix_millis();
        let mut tx = self.db.begin().await?;
        let revoked: Vec<String> = on_backend!(&mut tx, tx => sqlx::query_scalar(
            "WITH RECURSIVE chain(serial) AS (SELECT $2 UNION SELECT d.serial \
             FROM device_certificates d JOIN chain c ON d.renews = c.serial) \
             UPDATE device_certificates SET revoked_at = $1 \
             WHERE serial IN (SELECT serial FROM chain) AND revoked_at IS NULL RETURNING serial")
            .bind(now)
            .bind(&serial)
            .fetch_all(&mut **tx)
            .await)?;
        let sql = format!("SELECT {COLUMNS} FROM device_certificates WHERE serial = $1");
        let row: Option<Row> = on_backend!(&mut tx, tx => sqlx::query_as(&sql)
            .bind(&serial)
            .fetch_optional(&mut **tx)
            .await)?;
        let Some(row) = row else {
            return Err(ApiError::NotFound(format!(
                "no device certificate has the serial {serial}"
            )));
        };
        let certificate = listed(row, now);
        if !revoked.contains(&serial) {
            // nothing of it is kept (`tx` rolls back)
            return Err(ApiError::Conflict(format!(
                "the certificate {serial} was revoked already, at {}",
                certificate.revoked_at.as_deref().unwrap_or("?")
            )));
        }
        super::crl::refresh(&mut tx, &ca).await?;
        audit::record(
            &mut tx,
            actor,
            Area::Certificates,
            "revoke device certificate",
            &revoked
                .iter()
                .map(|s| Record::new(format!("enrollment.certificates.{s}.revoked"), false, true))
                .collect::<Vec<_>>(),
        )
        .await?;
        super::commit(tx, &self.bus).await?;
        security::record(
            &self.db,
            Event {
                event: "device certificate revoked",
                username: Some(&certificate.subject),
                actor: Some(&actor.name),
                source: actor.source.clone(),
                detail: Some(format!("serials {}", revoked.join(", "))),
            },
        )
        .await;
        tracing::info!(serial, by = %actor.name, "device certificate revoked");
        Ok(certificate)
    }

    /// The device whose certificate the caller presented: issued by the device CA, valid now,
    /// known and not revoked. A refusal is written to the security log.
    pub async fn device(&self, caller: &Caller) -> Result<Device, DeviceRefusal> {
        let source = caller.client.addr.map(|ip| ip.to_string());
        if caller.forged_device {
            self.refused(
                "forwarded certificate ignored",
                None,
                &source,
                "X-SSL-CERT sent by a peer that is no trusted proxy",
            )
            .await;
        }
        let Some(presented) = &caller.device else {
            let reason = DeviceRefusal::None.to_string();
            self.refused("device certificate refused", None, &source, &reason)
                .await;
            return Err(DeviceRefusal::None);
        };
        let verdict = self.check(&presented.der, presented.via).await;
        if let Err(refusal) = &verdict {
            let subject = X509Certificate::from_der(&presented.der)
                .ok()
                .map(|(_, c)| c.subject().to_string());
            self.refused(
                "device certificate refused",
                subject.as_deref(),
                &source,
                &refusal.to_string(),
            )
            .await;
        }
        verdict
    }

    async fn check(&self, der: &[u8], via: PresentedVia) -> Result<Device, DeviceRefusal> {
        let ca = self.tls.device().map_err(|_| DeviceRefusal::Unavailable)?;
        let (_, ca_cert) =
            X509Certificate::from_der(&ca.der).map_err(|_| DeviceRefusal::Unavailable)?;
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            return Err(DeviceRefusal::NotOurs);
        };
        if cert.issuer() != ca_cert.subject()
            || cert.verify_signature(Some(ca_cert.public_key())).is_err()
        {
            return Err(DeviceRefusal::NotOurs);
        }
        let now = unix_millis() / 1000;
        let validity = cert.validity();
        if validity.not_after.timestamp() < now {
            return Err(DeviceRefusal::Expired(rfc3339(
                validity.not_after.timestamp() * 1000,
            )));
        }
        if validity.not_before.timestamp() > now {
            return Err(DeviceRefusal::NotYetValid(rfc3339(
                validity.not_before.timestamp() * 1000,
            )));
        }
        let serial = hex::encode(cert.raw_serial());
        let row: Option<(String, i64, Option<i64>, Option<i64>)> =
            on_backend!(&self.db.pool, pool => sqlx::query_as(
                "SELECT subject, not_after, revoked_at, device_id FROM device_certificates \
                 WHERE serial = $1")
                .bind(&serial)
                .fetch_optional(pool)
                .await)
            .map_err(|e| {
                tracing::error!(error = %e, "reading device certificates");
                DeviceRefusal::Unavailable
            })?;
        let Some((subject, not_after, revoked_at, device_id)) = row else {
            return Err(DeviceRefusal::Unknown);
        };
        if let Some(at) = revoked_at {
            return Err(DeviceRefusal::Revoked(rfc3339(at)));
        }
        // a device registered or scanned after it enrolled is linked when it next shows up
        let device_id = match device_id {
            Some(id) => Some(id),
            None => self.link(&serial, &cert).await,
        };
        Ok(Device {
            names: super::csr::name_pairs(cert.subject()),
            serial,
            subject,
            not_after,
            device_id,
            via,
        })
    }

    /// Links the certificate `serial` to the device its common name names, if one does now (in
    /// one statement: a transaction that read first could not write on SQLite under load).
    async fn link(&self, serial: &str, cert: &X509Certificate<'_>) -> Option<i64> {
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())?
            .trim()
            .to_owned();
        let linked = async {
            let mut tx = self.db.begin().await?;
            let id: Option<Option<i64>> = on_backend!(&mut tx, tx => sqlx::query_scalar(
                "UPDATE device_certificates SET device_id = (SELECT id FROM devices \
                 WHERE lower(hostname) = lower($1) OR serial = $1 OR lower(mac) = lower($1) \
                 ORDER BY id LIMIT 1) WHERE serial = $2 AND device_id IS NULL RETURNING device_id")
                .bind(&cn)
                .bind(serial)
                .fetch_optional(&mut **tx)
                .await)?;
            let Some(Some(id)) = id else {
                // nothing to link: nothing changed
                return Ok::<_, DbError>(None);
            };
            super::commit(tx, &self.bus).await?;
            tracing::info!(
                serial,
                device = id,
                "device certificate linked to its device"
            );
            Ok(Some(id))
        };
        linked.await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, serial, "linking a device certificate to its device");
            None
        })
    }

    /// A refused enrollment or device request, in the security log.
    pub(super) async fn refused(
        &self,
        event: &str,
        who: Option<&str>,
        source: &Option<String>,
        reason: &str,
    ) {
        // what a client calls itself is kept short
        let who = who.map(|w| w.chars().take(80).collect::<String>());
        tracing::warn!(event, who, ?source, reason, "refused");
        security::record(
            &self.db,
            Event {
                event,
                username: who.as_deref(),
                actor: None,
                source: source.clone(),
                detail: Some(reason.to_owned()),
            },
        )
        .await;
    }
}
