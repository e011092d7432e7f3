//! `simpleenroll`: a checked request, an enrollment key spent, a certificate of the device CA
//! issued, recorded and audited.

use super::csr::{self, Checked};
use super::{Est, Refusal};
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
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// An issued certificate.
#[derive(Debug)]
pub struct Issued {
    pub der: Vec<u8>,
    pub serial: String,
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
        let request = csr::unbase64(body)
            .and_then(csr::check)
            .map_err(EnrollError::BadRequest)?;
        // looked at before signing (nothing is signed for a bad key), spent when the certificate
        // is recorded (a failure between costs no use)
        if let Err(refusal) = super::keys::check(&self.db, key_id, secret).await {
            tracing::warn!(key = key_id, %refusal, ?source, "enrollment refused");
            return Err(refusal.into());
        }
        let issued = self.issue(&request).await?;
        let actor = Actor {
            name: format!("enrollment key {key_id}"),
            source,
        };
        self.record(&actor, &request, &issued, Some((key_id, secret)))
            .await?;
        tracing::info!(serial = %issued.serial, subject = %request.subject, key = key_id, "enrolled");
        Ok(issued)
    }

    async fn issue(&self, request: &Checked) -> anyhow::Result<Issued> {
        let (ca_der, ca_key) = self.tls.device_ca().await?;
        let ca = crate::tls::pki::facts(&ca_der).map_err(|e| anyhow::anyhow!(e))?;
        let now = unix_millis();
        let not_after = (now + DEVICE_CERT_DAYS * DAY).min(ca.not_after);
        let der = request.der.clone();
        let subject = request.subject.clone();
        let (der, serial) = tokio::task::spawn_blocking(move || {
            let request = Checked { der, subject };
            csr::issue(&request, &ca_der, &ca_key, now - 60 * 60 * 1000, not_after)
        })
        .await?
        .map_err(|e| anyhow::anyhow!(e))?;
        Ok(Issued { der, serial })
    }

    async fn record(
        &self,
        actor: &Actor,
        request: &Checked,
        issued: &Issued,
        key: Option<(&str, &str)>,
    ) -> Result<(), EnrollError> {
        let facts = crate::tls::pki::facts(&issued.der).map_err(|e| anyhow::anyhow!(e))?;
        let mut tx = self.db.begin().await.map_err(anyhow::Error::from)?;
        if let Some((id, secret)) = key
            && let Err(refusal) = super::keys::spend_in(&mut tx, id, secret).await
        {
            tracing::warn!(key = id, %refusal, "enrollment refused");
            return Err(refusal.into());
        }
        let key = key.map(|(id, _)| id);
        on_backend!(&mut tx, tx => sqlx::query(
            "INSERT INTO device_certificates (serial, subject, der, not_after, issued_at, \
             enrollment_key) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&issued.serial)
            .bind(&request.subject)
            .bind(&issued.der)
            .bind(facts.not_after)
            .bind(unix_millis())
            .bind(key)
            .execute(&mut **tx)
            .await
            .map(|_| ()))
        .map_err(anyhow::Error::from)?;
        audit::record(
            &mut tx,
            actor,
            Area::Certificates,
            "enroll",
            &[Record::new(
                format!("enrollment.certificates.{}", issued.serial),
                serde_json::Value::Null,
                serde_json::json!({"subject": facts.subject, "not_after": rfc3339(facts.not_after)}),
            )],
        )
        .await
        .map_err(anyhow::Error::from)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(())
    }
}
