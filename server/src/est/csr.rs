//! Certificate requests (PKCS#10) as EST clients send them, checked, and certificates issued for
//! them; the certs-only PKCS#7 that EST answers with.

use der::{Decode, Encode};
use rcgen::{
    CertificateSigningRequestParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use x509_parser::prelude::*;

/// The shortest RSA key a device may enroll with.
pub const RSA_MIN_BITS: usize = 2048;
/// The longest: verifying larger keys costs much and buys nothing.
pub const RSA_MAX_BITS: usize = 8192;
/// The curves accepted: P-256 and P-384.
const CURVES: [&str; 2] = ["1.2.840.10045.3.1.7", "1.3.132.0.34"];
/// Signature algorithms on SHA-1, which no longer proves anything.
const SHA1_SIGNATURES: [&str; 3] = ["1.2.840.113549.1.1.5", "1.2.840.10045.4.1", "1.3.14.3.2.29"];

/// A request that passed the checks, read as the signer needs it.
#[derive(Debug)]
pub struct Checked {
    pub params: CertificateSigningRequestParams,
    pub subject: String,
    /// The subject as (attribute type, value) pairs, for comparing.
    pub names: Vec<(String, String)>,
    /// The subject's common name: the device's name.
    pub cn: String,
}

/// The body of an EST request: base64 (RFC 8951: line breaks and spaces allowed) of DER.
pub fn unbase64(body: &[u8]) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let text: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if text.is_empty() {
        return Err("the request is empty: send a base64 PKCS#10 certificate request".into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| format!("the request is not valid base64 ({e})"))
}

/// Reads and checks a request: its form, its signature, its key and its subject.
pub fn check(der: Vec<u8>) -> Result<Checked, String> {
    let (rest, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|_| "the request is not a DER PKCS#10 certificate request".to_owned())?;
    if !rest.is_empty() {
        return Err("the request has trailing data after it".into());
    }
    // the key first: a key too weak to accept is not worth verifying with (nor can it be)
    let info = &csr.certification_request_info;
    let curve = info
        .subject_pki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid.to_id_string());
    match info.subject_pki.parsed() {
        Ok(x509_parser::public_key::PublicKey::EC(_))
            if curve.as_deref().is_some_and(|c| CURVES.contains(&c)) => {}
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => {
            return Err(format!(
                "an EC key on the curve {} ({} bits) is not accepted: use P-256 or P-384",
                curve.as_deref().unwrap_or("(unnamed)"),
                ec.key_size()
            ));
        }
        Ok(x509_parser::public_key::PublicKey::RSA(rsa))
            if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&rsa.key_size()) => {}
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) if rsa.key_size() < RSA_MIN_BITS => {
            return Err(format!(
                "an RSA key of {} bits is too weak: at least {RSA_MIN_BITS}",
                rsa.key_size()
            ));
        }
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            return Err(format!(
                "an RSA key of {} bits is larger than the {RSA_MAX_BITS} bits accepted",
                rsa.key_size()
            ));
        }
        _ => return Err("the key type is not accepted: use EC P-256, P-384 or RSA".into()),
    }
    let algorithm = csr.signature_algorithm.algorithm.to_id_string();
    if SHA1_SIGNATURES.contains(&algorithm.as_str()) {
        return Err("the request is signed with SHA-1, which is not accepted: use SHA-256".into());
    }
    csr.verify_signature().map_err(|_| {
        "the request's signature does not verify with its own key (altered, or not signed by \
         the key it names)"
            .to_owned()
    })?;
    if info.subject.iter_common_name().count() > 1 {
        return Err("the request's subject has more than one common name (CN)".into());
    }
    let names = name_pairs(&info.subject);
    let mut types: Vec<&str> = names.iter().map(|(t, _)| t.as_str()).collect();
    types.sort_unstable();
    if types.windows(2).any(|w| w[0] == w[1]) {
        return Err("the request's subject names an attribute type twice".into());
    }
    let cn = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if cn.is_empty() {
        return Err("the request's subject has no common name (CN): name the device".into());
    }
    if cn.chars().count() > 64 || cn.chars().any(char::is_control) {
        return Err(
            "the request's common name is longer than 64 characters, or holds a \
                    control character"
                .into(),
        );
    }
    // what signing will need of it, found out before any key is spent
    let params = CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(
        der.as_slice(),
    ))
    .map_err(|e| format!("the request cannot be signed as it is: {e}"))?;
    Ok(Checked {
        subject: info.subject.to_string(),
        names,
        cn: cn.to_owned(),
        params,
    })
}

/// A name as (attribute type, value) pairs in order. Names are compared so, never by their
/// display strings, which do not escape separators inside values.
pub fn name_pairs(name: &X509Name) -> Vec<(String, String)> {
    name.iter_attributes()
        .map(|a| {
            let value = a
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|_| hex::encode(a.attr_value().data));
            (a.attr_type().to_id_string(), value)
        })
        .collect()
}

/// A client certificate for the request, signed by the device CA, valid from `not_before` to
/// `not_after` (Unix milliseconds). Its serial, in hex.
pub fn issue(
    request: &Checked,
    ca_der: &[u8],
    ca_key: &KeyPair,
    not_before: i64,
    not_after: i64,
) -> Result<(Vec<u8>, String), String> {
    let mut csr = request.params.clone();
    let time = |millis: i64| {
        ::time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
            .map_err(|_| "the validity is out of range".to_owned())
    };
    let mut serial: [u8; 16] = rand::random();
    serial[0] = (serial[0] & 0x7f) | 0x01;
    let params = &mut csr.params;
    params.not_before = time(not_before)?;
    params.not_after = time(not_after)?;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.is_ca = IsCa::ExplicitNoCa;
    // a device names itself by its subject; names it asks for are not the device CA's to vouch
    // for (yet: which names a device may hold is for the device list to say)
    params.subject_alt_names.clear();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(ca_der), ca_key)
        .map_err(|e| format!("the device CA cannot sign: {e}"))?;
    let cert = csr
        .signed_by(&issuer)
        .map_err(|e| format!("could not sign the certificate: {e}"))?;
    Ok((cert.der().to_vec(), hex::encode(serial)))
}

/// A certs-only PKCS#7 (CMS SignedData without signers) of `certs`, DER.
pub fn certs_only(certs: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    let parsed: Result<Vec<x509_cert::Certificate>, _> = certs
        .iter()
        .map(|der| x509_cert::Certificate::from_der(der))
        .collect();
    let parsed = parsed.map_err(|e| format!("a certificate cannot go into PKCS#7: {e}"))?;
    let content = cms::content_info::ContentInfo::try_from(parsed)
        .map_err(|e| format!("could not build PKCS#7: {e}"))?;
    content
        .to_der()
        .map_err(|e| format!("could not encode PKCS#7: {e}"))
}

/// Base64 as EST answers carry it (RFC 8951), in lines of 64.
pub fn base64_lines(der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(text.len() + text.len() / 64 + 1);
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out
}
