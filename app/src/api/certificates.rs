//! Certificates: the web certificates servers present, the cluster check, the device CA's chain.
//! Certificates are named by the hex SHA-256 fingerprint of their DER form.

use crate::model::KeyAlgorithm;
use serde::{Deserialize, Serialize};

/// `GET`: the list ([`WebCertificates`]).
pub const WEB_CERTIFICATES_URL: &str = "/api/v1/certificates/web";
/// `POST` ([`NewRoot`]): generate or import a CA (or a certificate with its key).
pub const WEB_ROOTS_URL: &str = "/api/v1/certificates/web/roots";
/// `POST` ([`NewSigned`]): a server certificate signed by a CA of the list.
pub const WEB_SIGNED_URL: &str = "/api/v1/certificates/web/signed";
/// `GET`: whether the cluster requirement holds ([`ClusterCheck`]).
pub const WEB_CHECK_URL: &str = "/api/v1/certificates/web/check";
/// `GET`: the device CA's chain as PEM, for a reverse proxy's trusted client CAs.
pub const CLIENT_CHAIN_URL: &str = "/api/v1/certificates/client-chain";
/// `GET`, anonymous: the web root CA of this server's certificate, as PEM.
pub const CA_PEM_URL: &str = "/ca.pem";

/// `/api/v1/certificates/web/{fp}`: `DELETE`.
pub fn web_certificate_url(fingerprint: &str) -> String {
    format!("{WEB_CERTIFICATES_URL}/{fingerprint}")
}

/// `…/{fp}/assign` ([`Assign`]), `…/{fp}/renew`, `…/{fp}/export`.
pub fn web_certificate_action_url(fingerprint: &str, action: &str) -> String {
    format!("{WEB_CERTIFICATES_URL}/{fingerprint}/{action}")
}

/// Which servers: every one (also those that join later), or these by id.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Servers {
    All(AllServers),
    Some(Vec<String>),
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AllServers {
    #[serde(rename = "all")]
    All,
}

impl Servers {
    pub const ALL: Servers = Servers::All(AllServers::All);
}

/// One server as the certificate pages name it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerRef {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Expiry {
    Valid,
    /// Fewer than 30 days left.
    Soon,
    Expired,
    /// Not valid yet.
    NotYet,
}

/// One certificate of the list.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebCertificate {
    pub fingerprint_sha256: String,
    pub fingerprint_sha1: String,
    pub subject: String,
    pub issuer: String,
    /// The issuing certificate, when it is in the list too.
    pub issuer_fingerprint: Option<String>,
    /// DNS names and IP addresses.
    pub sans: Vec<String>,
    /// RFC 3339.
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
    pub expiry: Expiry,
    /// `EC P-256`, `RSA 2048`, …
    pub key_algorithm: String,
    pub has_key: bool,
    pub is_ca: bool,
    pub self_signed: bool,
    /// Assigned to every server (also those that join later).
    pub assigned_to_all: bool,
    /// Servers presenting it now.
    pub assigned_to: Vec<ServerRef>,
    /// How many certificates of the list it issued.
    pub issued: u32,
}

/// `GET /api/v1/certificates/web`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebCertificates {
    pub certificates: Vec<WebCertificate>,
    /// The known servers.
    pub servers: Vec<ServerRef>,
    /// The names "Create signed certificate" starts with for all servers: the cluster address,
    /// `localhost`, every IP and name of every known server.
    pub suggested_hostnames: Vec<String>,
    /// The names it starts with for one server (by id): the cluster address, `localhost`, that
    /// server's name and addresses.
    #[serde(default)]
    pub suggested_for_server: std::collections::BTreeMap<String, Vec<String>>,
}

/// `POST /api/v1/certificates/web/roots`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum NewRoot {
    Generate(GenerateRoot),
    Import(ImportCertificate),
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GenerateRoot {
    #[serde(default)]
    pub algorithm: KeyAlgorithm,
    pub name: String,
    /// Default 20 years.
    #[serde(default)]
    pub validity_days: Option<u32>,
    /// A CA of the list to sign it, making it an intermediate; none for a root.
    #[serde(default)]
    pub issuer: Option<String>,
}

/// A certificate with its key: PEM (the certificate first, then the issuers it needs that are not
/// in the list yet), or PKCS#12 (base64) with its password.
#[derive(Serialize, Deserialize, Clone, PartialEq, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportCertificate {
    #[serde(default)]
    pub cert_pem: Option<String>,
    #[serde(default)]
    pub key_pem: Option<String>,
    #[serde(default)]
    pub p12_base64: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for ImportCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportCertificate")
            .field("cert_pem", &self.cert_pem.as_ref().map(|_| "…"))
            .field("key_pem", &self.key_pem.as_ref().map(|_| "(hidden)"))
            .field("p12_base64", &self.p12_base64.as_ref().map(|_| "(hidden)"))
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .finish()
    }
}

/// `POST /api/v1/certificates/web/signed`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSigned {
    /// The signing CA's fingerprint.
    pub issuer: String,
    /// Whose certificate it is: its names default to theirs, and `assign` assigns it to them.
    pub servers: Servers,
    /// Empty: the suggested names of those servers.
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Default one year; never beyond the issuer's end.
    #[serde(default)]
    pub validity_days: Option<u32>,
    #[serde(default)]
    pub algorithm: KeyAlgorithm,
    /// Assign it to `servers` at once (the cluster check's one-click fix).
    #[serde(default)]
    pub assign: bool,
}

/// `POST …/{fp}/assign`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Assign {
    pub servers: Servers,
}

/// Answer of the requests that make a certificate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Created {
    pub fingerprint_sha256: String,
}

/// `GET …/{fp}/export?format=`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Pem,
    Der,
    Chain,
}

/// `POST …/{fp}/export`: the certificate, its chain and its key, protected by `password`.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExportKey {
    /// Only `p12`.
    pub format: String,
    pub password: String,
}

impl std::fmt::Debug for ExportKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportKey")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// `GET /api/v1/certificates/web/check`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClusterCheck {
    /// A cluster address is enabled and more than one server is known (or the installation is
    /// High Availability): the requirement applies.
    pub applies: bool,
    /// It applies and holds, or it does not apply.
    pub ok: bool,
    pub cluster_address: Option<String>,
    /// Names the certificate each server presents lacks, per server.
    pub missing: Vec<MissingNames>,
    /// Servers not presenting the certificate the others present (or any one certificate, when
    /// no certificate is assigned to all).
    pub servers_without: Vec<ServerRef>,
    /// The names the fix puts in one certificate for all servers.
    pub fix_hostnames: Vec<String>,
    /// A CA with its key to sign the fix's certificate (the one that signed the current one,
    /// if it can), none if the list has no such CA.
    pub fix_issuer: Option<String>,
    /// What is wrong, in sentences.
    pub problems: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MissingNames {
    pub server: ServerRef,
    /// The certificate it presents.
    pub certificate: String,
    pub names: Vec<String>,
}
