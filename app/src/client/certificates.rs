//! Calls of the certificates page and of the cluster check on the Server Network Settings page.

use super::request;
use super::{Refusal, get_json, send, send_json};
use crate::api::{
    Assign, ClusterCheck, Created, ExportKey, NewRoot, NewSigned, Servers, WEB_CERTIFICATES_URL,
    WEB_CHECK_URL, WEB_ROOTS_URL, WEB_SIGNED_URL, WebCertificates, web_certificate_action_url,
    web_certificate_url,
};

pub async fn get_certificates() -> Result<WebCertificates, String> {
    get_json(WEB_CERTIFICATES_URL).await
}

pub async fn get_check() -> Result<ClusterCheck, String> {
    get_json(WEB_CHECK_URL).await
}

/// Generates or imports a CA (or a certificate with its key).
pub async fn add_root(root: &NewRoot) -> Result<Created, Refusal> {
    send_json(request::post(WEB_ROOTS_URL).json(root)).await
}

pub async fn add_signed(signed: &NewSigned) -> Result<Created, Refusal> {
    send_json(request::post(WEB_SIGNED_URL).json(signed)).await
}

pub async fn assign(fingerprint: &str, servers: Servers) -> Result<(), Refusal> {
    let url = web_certificate_action_url(fingerprint, "assign");
    send(request::post(&url).json(&Assign { servers }))
        .await
        .map(drop)
}

/// Re-issues a certificate with its subject and names; the answer names the new one.
pub async fn renew(fingerprint: &str) -> Result<Created, Refusal> {
    send_json(request::post(&web_certificate_action_url(fingerprint, "renew")).build()).await
}

pub async fn delete(fingerprint: &str) -> Result<(), Refusal> {
    send(request::delete(&web_certificate_url(fingerprint)).build())
        .await
        .map(drop)
}

/// The certificate, its chain and its key as a PKCS#12 file protected by `password`.
pub async fn export_p12(fingerprint: &str, password: String) -> Result<Vec<u8>, Refusal> {
    let url = web_certificate_action_url(fingerprint, "export");
    let body = ExportKey {
        format: "p12".to_owned(),
        password,
    };
    send(request::post(&url).json(&body))
        .await?
        .binary()
        .await
        .map_err(|e| Refusal::Failed(e.to_string()))
}
