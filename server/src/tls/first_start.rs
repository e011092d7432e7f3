//! What an installation and each server make at their first start: the web root, the device
//! CA, and the server's own certificate.

use super::*;

/// The names of this server's own first certificate.
pub(super) fn own_names(config: &Config, identity: &crate::cluster::Identity) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(public) = &config.public_address {
        names.push(public.clone());
    }
    names.push(identity.name.clone());
    names.push(gethostname::gethostname().to_string_lossy().into_owned());
    names.extend(identity.addresses.iter().cloned());
    valid_names(names)
}

/// The CA of `role` (the web root or the device CA): made and stored by the first server to
/// start; its key must open with this server's secret key.
pub(super) async fn ensure_ca(
    db: &Db,
    sealer: &Sealer,
    actor: &Actor,
    role: &str,
) -> anyhow::Result<Stored> {
    if let Some(fp) = store::role(db, role).await? {
        return existing_ca(db, sealer, &fp).await;
    }
    let (name, purpose) = match role {
        store::ROLE_WEB_ROOT => ("Pharos Web Root CA", store::WEB),
        _ => ("Pharos Device CA", store::DEVICE),
    };
    let now = unix_millis();
    let not_after = now + i64::from(rules::ROOT_DEFAULT_DAYS) * DAY;
    let (der, key) = tokio::task::spawn_blocking(move || {
        let key = pki::generate_key(KeyAlgorithm::EcP256)?;
        let der = pki::make(
            Profile::Ca { name },
            &key,
            Signer::Itself,
            now - BACKDATE,
            not_after,
        )?;
        Ok::<_, String>((der, key))
    })
    .await?
    .map_err(|e| anyhow::anyhow!(e))?;
    let facts = pki::facts(&der).map_err(|e| anyhow::anyhow!(e))?;
    let fingerprint = facts.fingerprint_sha256.clone();
    let row = Stored::made(sealer, purpose, &der, &facts, Some(&key), None, actor);
    let mut tx = db.begin().await?;
    store::insert(&mut tx, &row).await?;
    // made by the installation itself, not an administrator: logged, not audited
    if store::claim_role(&mut tx, role, &fingerprint).await? {
        tx.commit().await?;
        tracing::info!(role, fingerprint, "generated a CA");
        Ok(row)
    } else {
        // another server stored one first: use that one
        tx.rollback().await?;
        let fp = store::role(db, role)
            .await?
            .context("reading the CA just stored")?;
        existing_ca(db, sealer, &fp).await
    }
}

async fn existing_ca(db: &Db, sealer: &Sealer, fp: &str) -> anyhow::Result<Stored> {
    let cert = store::get(db, fp)
        .await?
        .with_context(|| format!("the certificate {fp} of a role is missing"))?;
    if let Some(sealed) = &cert.sealed_key {
        sealer.open(sealed, fp).map_err(|_| {
            anyhow::anyhow!(
                "the private keys in this database were sealed with another secret key: every \
                 server sharing a database needs the same PHAROS_SECRET_KEY (or a copy of the \
                 first server's {KEY_FILE})"
            )
        })?;
    }
    Ok(cert)
}

/// This server's first certificate: its names, signed by the web root, assigned to it.
pub(super) async fn make_own_certificate(
    db: &Db,
    bus: &bus::Bus,
    sealer: &Sealer,
    actor: &Actor,
    root: &Stored,
    names: &[String],
    server_id: &str,
) -> anyhow::Result<()> {
    let root_key = root
        .sealed_key
        .as_ref()
        .context("the web root has no key")?;
    let root_key = pki::key_from_der(&sealer.open(root_key, &root.fingerprint)?)
        .map_err(|e| anyhow::anyhow!(e))?;
    let now = unix_millis();
    let not_after = (now + i64::from(rules::LEAF_DEFAULT_DAYS) * DAY).min(root.not_after);
    let root_der = root.der.clone();
    let names = names.to_vec();
    let (der, key) = tokio::task::spawn_blocking(move || {
        let key = pki::generate_key(KeyAlgorithm::EcP256)?;
        let der = pki::make(
            Profile::Server { hostnames: &names },
            &key,
            Signer::Ca {
                der: &root_der,
                key: &root_key,
            },
            now - BACKDATE,
            not_after,
        )?;
        Ok::<_, String>((der, key))
    })
    .await?
    .map_err(|e| anyhow::anyhow!(e))?;
    let facts = pki::facts(&der).map_err(|e| anyhow::anyhow!(e))?;
    let fingerprint = facts.fingerprint_sha256.clone();
    let issuer = Some(root.fingerprint.clone());
    let row = Stored::made(sealer, store::WEB, &der, &facts, Some(&key), issuer, actor);
    let mut tx = db.begin().await?;
    store::insert(&mut tx, &row).await?;
    store::assign(&mut tx, server_id, &fingerprint).await?;
    bus.notify(&mut tx, Topic::Certificates, None).await?;
    tx.commit().await?;
    tracing::info!(%fingerprint, names = ?facts.sans, "generated this server's certificate");
    Ok(())
}
