//! The device CA's certificate revocation list: signed again at every revocation (in the
//! revocation's transaction), and when it nears its next update or the device CA changed;
//! served to anyone at `/device-ca.crl` for proxies (`ssl_crl`).

use super::Est;
use crate::db::{DbError, Tx};
use crate::on_backend;
use crate::tls::DeviceCa;
use crate::workers::unix_millis;
use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, RevocationReason, RevokedCertParams,
    SerialNumber,
};
use rustls_pki_types::CertificateDer;

const HOUR: i64 = 60 * 60 * 1000;
/// How long a list is good for; it is signed again when less than half of that is left, so a
/// proxy that fetches it daily never holds an expired one.
const VALIDITY: i64 = 7 * 24 * HOUR;

/// The stored list: its CA, number, DER and next update.
type Row = (String, i64, Vec<u8>, i64);

impl Est {
    /// The current list (DER), signed again first if it is stale.
    pub async fn crl(&self) -> anyhow::Result<Vec<u8>> {
        let ca = self.tls.device()?;
        let now = unix_millis();
        let stored: Option<Row> = on_backend!(&self.db.pool, pool => sqlx::query_as(
            "SELECT ca_fingerprint, number, der, next_update FROM device_crl WHERE id = 1")
            .fetch_optional(pool)
            .await)
        .map_err(DbError::from)?;
        if let Some((fingerprint, _, der, next_update)) = stored
            && fingerprint == ca.fingerprint
            && next_update - now > VALIDITY / 2
        {
            return Ok(der);
        }
        let mut tx = self.db.begin().await?;
        let der = refresh(&mut tx, &ca).await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(der)
    }
}

/// Signs the list of every revoked certificate that has not expired, numbered one past the
/// stored one, and stores it in `tx`.
pub(super) async fn refresh(tx: &mut Tx, ca: &DeviceCa) -> anyhow::Result<Vec<u8>> {
    let now = unix_millis();
    // the number first, in the statement that writes: it serialises signers (on PostgreSQL the
    // row stays locked until `tx` ends) and a transaction that read first could not write on
    // SQLite under load
    let number: i64 = on_backend!(tx, tx => sqlx::query_scalar(
        "INSERT INTO device_crl (id, ca_fingerprint, number, der, this_update, next_update) \
         VALUES (1, $1, 1, $2, $3, $3) ON CONFLICT (id) DO UPDATE \
         SET number = device_crl.number + 1 RETURNING number")
        .bind(&ca.fingerprint)
        .bind(Vec::<u8>::new())
        .bind(now)
        .fetch_one(&mut **tx)
        .await)?;
    let revoked: Vec<(String, i64)> = on_backend!(tx, tx => sqlx::query_as(
        "SELECT serial, revoked_at FROM device_certificates \
         WHERE revoked_at IS NOT NULL AND not_after > $1 ORDER BY revoked_at, serial")
        .bind(now)
        .fetch_all(&mut **tx)
        .await)?;
    let der = sign(ca, number, now, &revoked)?;
    on_backend!(tx, tx => sqlx::query(
        "UPDATE device_crl SET ca_fingerprint = $1, der = $2, this_update = $3, \
         next_update = $4 WHERE id = 1")
        .bind(&ca.fingerprint)
        .bind(&der)
        .bind(now)
        .bind(now + VALIDITY)
        .execute(&mut **tx)
        .await
        .map(|_| ()))?;
    Ok(der)
}

fn time(millis: i64) -> anyhow::Result<::time::OffsetDateTime> {
    Ok(::time::OffsetDateTime::from_unix_timestamp(
        millis.div_euclid(1000),
    )?)
}

fn sign(
    ca: &DeviceCa,
    number: i64,
    now: i64,
    revoked: &[(String, i64)],
) -> anyhow::Result<Vec<u8>> {
    let revoked_certs = revoked
        .iter()
        .map(|(serial, at)| {
            let bytes = hex::decode(serial)?;
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&bytes),
                revocation_time: time(*at)?,
                reason_code: Some(RevocationReason::CessationOfOperation),
                invalidity_date: None,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let params = CertificateRevocationListParams {
        this_update: time(now - 60_000)?,
        next_update: time(now + VALIDITY)?,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(ca.der.as_slice()), &*ca.key)?;
    Ok(params.signed_by(&issuer)?.der().to_vec())
}
