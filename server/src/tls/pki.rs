//! Certificates themselves: reading them (x509-parser), making and signing them (rcgen), keys,
//! and the export formats. No storage and no async here; key generation is slow (RSA 4096 takes
//! seconds), so callers run these on blocking threads.

use ::time::OffsetDateTime;
use app::model::KeyAlgorithm;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, RsaKeySize, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use x509_parser::prelude::*;

/// What the list shows of a certificate, and what the checks need.
#[derive(Clone, Debug)]
pub struct Facts {
    pub fingerprint_sha256: String,
    pub fingerprint_sha1: String,
    pub subject: String,
    pub issuer: String,
    pub subject_raw: Vec<u8>,
    pub issuer_raw: Vec<u8>,
    /// DNS names and IP addresses.
    pub sans: Vec<String>,
    /// Unix milliseconds.
    pub not_before: i64,
    pub not_after: i64,
    pub key_algorithm: String,
    pub is_ca: bool,
    /// Its subject is its issuer and its own key verifies it.
    pub self_signed: bool,
    /// The subject public key info, DER.
    pub spki: Vec<u8>,
}

pub fn sha256_hex(der: &[u8]) -> String {
    hex(&Sha256::digest(der))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fingerprint as people paste it (upper case, with colons) in the form Pharos names
/// certificates by.
pub fn normalize_fingerprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

fn millis(t: ASN1Time) -> i64 {
    t.timestamp().saturating_mul(1000)
}

/// Reads a DER certificate.
pub fn facts(der: &[u8]) -> Result<Facts, String> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("this is not a readable X.509 certificate ({e})"))?;
    if !rest.is_empty() {
        return Err("the certificate has trailing data after it".into());
    }
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.push(dns.to_string()),
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        sans.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let key_algorithm = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => match ec.key_size() {
            256 => "EC P-256".to_owned(),
            384 => "EC P-384".to_owned(),
            521 => "EC P-521".to_owned(),
            bits => format!("EC {bits} bits"),
        },
        Ok(_) => "other".to_owned(),
        Err(_) => "unreadable".to_owned(),
    };
    let self_signed =
        cert.subject().as_raw() == cert.issuer().as_raw() && cert.verify_signature(None).is_ok();
    Ok(Facts {
        fingerprint_sha256: sha256_hex(der),
        fingerprint_sha1: hex(&sha1::Sha1::digest(der)),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        subject_raw: cert.subject().as_raw().to_vec(),
        issuer_raw: cert.issuer().as_raw().to_vec(),
        sans,
        not_before: millis(cert.validity().not_before),
        not_after: millis(cert.validity().not_after),
        key_algorithm,
        is_ca: cert.is_ca(),
        self_signed,
        spki: cert.public_key().raw.to_vec(),
    })
}

/// Whether `issuer` signed `child`: names chained and signature verified.
pub fn issued(child: &[u8], issuer: &[u8]) -> bool {
    let (Ok((_, child)), Ok((_, issuer))) = (
        X509Certificate::from_der(child),
        X509Certificate::from_der(issuer),
    ) else {
        return false;
    };
    child.issuer().as_raw() == issuer.subject().as_raw()
        && child.verify_signature(Some(issuer.public_key())).is_ok()
}

/// Whether a certificate name (`*.example.com` included) covers `host`.
pub fn covers(san: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let san = san.to_ascii_lowercase();
    if san == host {
        return true;
    }
    if host.parse::<IpAddr>().is_ok() {
        return false;
    }
    match san.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => false,
    }
}

/// A new key pair.
pub fn generate_key(algorithm: KeyAlgorithm) -> Result<KeyPair, String> {
    let made = match algorithm {
        KeyAlgorithm::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::EcP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyAlgorithm::Rsa2048 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
        }
        KeyAlgorithm::Rsa3072 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072)
        }
        KeyAlgorithm::Rsa4096 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)
        }
    };
    made.map_err(|e| format!("could not generate a {} key: {e}", algorithm.label()))
}

/// The key algorithm of an existing key, to give its renewal the same kind.
pub fn algorithm_of(facts: &Facts) -> KeyAlgorithm {
    match facts.key_algorithm.as_str() {
        "EC P-384" => KeyAlgorithm::EcP384,
        "RSA 2048" => KeyAlgorithm::Rsa2048,
        "RSA 3072" => KeyAlgorithm::Rsa3072,
        "RSA 4096" => KeyAlgorithm::Rsa4096,
        _ => KeyAlgorithm::EcP256,
    }
}

/// A private key from PEM (PKCS#8, PKCS#1 RSA or SEC1 EC), kept as PKCS#8.
pub fn key_from_pem(pem: &str) -> Result<KeyPair, String> {
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
        "the key is not a readable PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC \
         PRIVATE KEY; an encrypted key must be decrypted first, or imported as PKCS#12)"
            .to_owned()
    })?;
    KeyPair::try_from(&der).map_err(|e| format!("the private key cannot be used: {e}"))
}

/// A stored key (PKCS#8 DER).
pub fn key_from_der(der: &[u8]) -> Result<KeyPair, String> {
    KeyPair::try_from(der).map_err(|e| format!("the stored private key is unreadable: {e}"))
}

/// Every certificate of a PEM text, in order.
pub fn certs_from_pem(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let certs: Result<Vec<CertificateDer<'static>>, _> =
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    let certs = certs.map_err(|_| "the certificate is not readable PEM".to_owned())?;
    if certs.is_empty() {
        return Err("no certificate found: paste PEM text that has BEGIN CERTIFICATE".into());
    }
    Ok(certs.into_iter().map(|c| c.to_vec()).collect())
}

pub fn pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

pub fn key_pem(pkcs8: &[u8]) -> String {
    pem_block("PRIVATE KEY", pkcs8)
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// What a new certificate is: a CA, or a server's.
pub enum Profile<'a> {
    Ca { name: &'a str },
    Server { hostnames: &'a [String] },
}

/// The signer of a new certificate: itself, or a CA with its key.
pub enum Signer<'a> {
    Itself,
    Ca { der: &'a [u8], key: &'a KeyPair },
}

fn serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    // positive, and not starting with a zero byte that DER would strip
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&bytes)
}

fn to_time(millis: i64) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .map_err(|_| "the validity is out of range".to_owned())
}

/// Makes and signs a certificate valid from `not_before` to `not_after` (Unix milliseconds).
pub fn make(
    profile: Profile<'_>,
    key: &KeyPair,
    signer: Signer<'_>,
    not_before: i64,
    not_after: i64,
) -> Result<Vec<u8>, String> {
    let (is_ca, sans, common_name) = match profile {
        Profile::Ca { name } => (true, Vec::new(), name.to_owned()),
        Profile::Server { hostnames } => (
            false,
            hostnames.to_vec(),
            hostnames
                .first()
                .cloned()
                .unwrap_or_else(|| "Pharos".into()),
        ),
    };
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Pharos");
    let params = params(is_ca, &sans, dn, not_before, not_after)?;
    sign(&params, key, signer)
}

/// The same certificate again (subject, names, kind), valid from `not_before` to `not_after`,
/// for `key`: a renewal.
pub fn remake(
    der: &[u8],
    key: &KeyPair,
    signer: Signer<'_>,
    not_before: i64,
    not_after: i64,
) -> Result<Vec<u8>, String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("the certificate cannot be read: {e}"))?;
    let mut dn = DistinguishedName::new();
    for attribute in cert.subject().iter_attributes() {
        let Some(oid) = attribute.attr_type().iter() else {
            continue;
        };
        let oid: Vec<u64> = oid.collect();
        let value = attribute
            .as_str()
            .map_err(|_| "the subject holds a value that is not text".to_owned())?;
        dn.push(DnType::from_oid(&oid), value);
    }
    let facts = facts(der)?;
    let params = params(facts.is_ca, &facts.sans, dn, not_before, not_after)?;
    sign(&params, key, signer)
}

fn params(
    is_ca: bool,
    sans: &[String],
    dn: DistinguishedName,
    not_before: i64,
    not_after: i64,
) -> Result<CertificateParams, String> {
    let mut params = CertificateParams::new(sans.to_vec())
        .map_err(|e| format!("a host name cannot go into a certificate: {e}"))?;
    params.distinguished_name = dn;
    if is_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
    } else {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    params.not_before = to_time(not_before)?;
    params.not_after = to_time(not_after)?;
    params.serial_number = Some(serial());
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn sign(params: &CertificateParams, key: &KeyPair, signer: Signer<'_>) -> Result<Vec<u8>, String> {
    let made = match signer {
        Signer::Itself => params.self_signed(key),
        Signer::Ca { der, key: ca_key } => {
            let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(der), ca_key)
                .map_err(|e| format!("the issuer's certificate cannot sign: {e}"))?;
            params.signed_by(key, &issuer)
        }
    };
    made.map(|c| c.der().to_vec())
        .map_err(|e| format!("could not sign the certificate: {e}"))
}

/// PKCS#12 of a key and its chain (the certificate first), under `password`: PBES2 with
/// AES-256 and an HMAC-SHA-256 MAC, which OpenSSL 3 and current Java read.
pub fn p12(
    chain: &[Vec<u8>],
    key_pkcs8: &[u8],
    password: &str,
    name: &str,
) -> Result<Vec<u8>, String> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKeyChain};
    let certs: Result<Vec<Certificate>, _> =
        chain.iter().map(|der| Certificate::from_der(der)).collect();
    let certs = certs.map_err(|e| format!("a certificate cannot go into PKCS#12: {e}"))?;
    let key = p12_keystore::PrivateKey::from_der(key_pkcs8)
        .map_err(|e| format!("the key cannot go into PKCS#12: {e}"))?;
    let id: [u8; 20] = rand::random();
    let mut store = KeyStore::new();
    store.add_entry(
        name,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(id.to_vec(), key, certs)),
    );
    store
        .writer(password)
        .write()
        .map_err(|e| format!("could not write PKCS#12: {e}"))
}

/// The key and certificates of a PKCS#12 file (its key's chain first, then any other
/// certificate it holds).
pub fn from_p12(bytes: &[u8], password: &str) -> Result<(KeyPair, Vec<Vec<u8>>), String> {
    use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
    let store =
        KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed).map_err(|e| {
            format!("the PKCS#12 file cannot be opened (a wrong password, or not PKCS#12): {e}")
        })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err("the PKCS#12 file holds no private key".into());
    };
    let key = key_from_der(chain.key().as_der())?;
    let mut certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
    for (_, entry) in store.entries() {
        if let KeyStoreEntry::Certificate(cert) = entry {
            let der = cert.as_der().to_vec();
            if !certs.contains(&der) {
                certs.push(der);
            }
        }
    }
    if certs.is_empty() {
        return Err("the PKCS#12 file holds a key but no certificate".into());
    }
    Ok((key, certs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::PublicKeyData;

    const DAY: i64 = 86_400_000;

    fn now() -> i64 {
        crate::workers::unix_millis()
    }

    #[test]
    fn a_root_signs_a_server_certificate_that_names_its_hosts() {
        let root_key = generate_key(KeyAlgorithm::EcP256).unwrap();
        let root = make(
            Profile::Ca { name: "Test root" },
            &root_key,
            Signer::Itself,
            now(),
            now() + 10 * DAY,
        )
        .unwrap();
        let root_facts = facts(&root).unwrap();
        assert!(root_facts.is_ca && root_facts.self_signed);
        assert_eq!(root_facts.key_algorithm, "EC P-256");
        let key = generate_key(KeyAlgorithm::EcP384).unwrap();
        let names = vec!["pharos.example".to_owned(), "10.1.2.3".to_owned()];
        let leaf = make(
            Profile::Server { hostnames: &names },
            &key,
            Signer::Ca {
                der: &root,
                key: &root_key,
            },
            now(),
            now() + DAY,
        )
        .unwrap();
        let leaf_facts = facts(&leaf).unwrap();
        assert_eq!(leaf_facts.sans, names);
        assert!(!leaf_facts.is_ca && !leaf_facts.self_signed);
        assert_eq!(leaf_facts.key_algorithm, "EC P-384");
        assert!(issued(&leaf, &root));
        assert!(!issued(&root, &leaf));
        assert_eq!(leaf_facts.spki, key.subject_public_key_info());
        // renewed: same names, new validity
        let renewed = remake(
            &leaf,
            &key,
            Signer::Ca {
                der: &root,
                key: &root_key,
            },
            now(),
            now() + 2 * DAY,
        )
        .unwrap();
        let renewed_facts = facts(&renewed).unwrap();
        assert_eq!(renewed_facts.sans, names);
        assert_eq!(renewed_facts.subject, leaf_facts.subject);
        assert!(renewed_facts.not_after > leaf_facts.not_after);
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(covers("*.example.com", "a.example.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(covers("LB.example.com", "lb.example.com."));
        assert!(covers("10.0.0.1", "10.0.0.1"));
        assert!(!covers("*.0.0.1", "10.0.0.1"));
    }

    #[test]
    fn pkcs12_round_trip() {
        let key = generate_key(KeyAlgorithm::EcP256).unwrap();
        let root = make(
            Profile::Ca { name: "R" },
            &key,
            Signer::Itself,
            now(),
            now() + DAY,
        )
        .unwrap();
        let bytes = p12(
            std::slice::from_ref(&root),
            &key.serialize_der(),
            "password-1",
            "r",
        )
        .unwrap();
        let (back, certs) = from_p12(&bytes, "password-1").unwrap();
        assert_eq!(back.serialize_der(), key.serialize_der());
        assert_eq!(certs, vec![root]);
        assert!(from_p12(&bytes, "wrong-password").is_err());
    }

    #[test]
    fn fingerprints_as_pasted() {
        let fp = "AB:".repeat(31) + "AB";
        assert_eq!(normalize_fingerprint(&fp).unwrap(), "ab".repeat(32));
        assert!(normalize_fingerprint("abc").is_none());
    }
}
