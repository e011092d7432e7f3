//! Device enrollment: the one-time keys that authorise a device's first EST enrollment.

use serde::{Deserialize, Serialize};

/// `GET`: the keys ([`EnrollmentKeyList`]); `POST` ([`NewEnrollmentKey`]): a new one, its secret
/// shown once ([`CreatedEnrollmentKey`]); `DELETE …/{id}` revokes one.
pub const ENROLLMENT_KEYS_URL: &str = "/api/v1/enrollment/keys";

/// `POST /api/v1/enrollment/keys`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEnrollmentKey {
    /// How many enrollments it authorises.
    pub uses: u32,
    pub expires_in_minutes: u32,
    #[serde(default)]
    pub note: String,
}

/// The answer to a new key: `id` and `secret` are what an EST client sends as the HTTP Basic
/// user name and password. The secret is shown only here.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedEnrollmentKey {
    pub id: String,
    pub secret: String,
    pub uses: u32,
    /// RFC 3339.
    pub expires_at: String,
    pub note: String,
}

impl std::fmt::Debug for CreatedEnrollmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedEnrollmentKey")
            .field("id", &self.id)
            .field("secret", &"(hidden)")
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentKeyState {
    Active,
    UsedUp,
    Expired,
    Revoked,
}

/// A key as listed: never its secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnrollmentKey {
    pub id: String,
    pub uses: u32,
    pub uses_left: u32,
    pub expires_at: String,
    pub note: String,
    pub created_at: String,
    pub created_by: String,
    pub state: EnrollmentKeyState,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnrollmentKeyList {
    pub keys: Vec<EnrollmentKey>,
}

/// `GET`: the certificates the device CA issued over EST ([`DeviceCertificateList`]);
/// `POST …/{serial}/revoke` revokes one.
pub const DEVICE_CERTIFICATES_URL: &str = "/api/v1/enrollment/certificates";

/// The device CA's certificate revocation list (DER), served to anyone, for proxies' `ssl_crl`.
pub const DEVICE_CRL_URL: &str = "/device-ca.crl";

/// A device's view of itself, proved by its certificate ([`DeviceIdentity`]).
pub const WHOAMI_URL: &str = "/device/v1/whoami";

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceCertificateState {
    Valid,
    Revoked,
    Expired,
}

impl DeviceCertificateState {
    /// The state at `now` of a certificate that expires at `not_after` (both Unix milliseconds).
    pub fn at(revoked: bool, not_after: i64, now: i64) -> Self {
        if revoked {
            DeviceCertificateState::Revoked
        } else if not_after <= now {
            DeviceCertificateState::Expired
        } else {
            DeviceCertificateState::Valid
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceCertificateState::Valid => "valid",
            DeviceCertificateState::Revoked => "revoked",
            DeviceCertificateState::Expired => "expired",
        }
    }
}

/// A certificate issued to a device.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceCertificate {
    /// Hex, lower case.
    pub serial: String,
    pub subject: String,
    /// RFC 3339.
    pub not_after: String,
    pub issued_at: String,
    pub state: DeviceCertificateState,
    pub revoked_at: Option<String>,
    /// The enrollment key a first enrollment spent.
    pub enrollment_key: Option<String>,
    /// The serial a re-enrollment replaced.
    pub renews: Option<String>,
    /// The scanned or registered device whose host name, serial number or MAC address the
    /// certificate's common name is.
    pub device_id: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceCertificateList {
    pub certificates: Vec<DeviceCertificate>,
}

/// How a device's certificate reached the server.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PresentedVia {
    /// In the TLS handshake with this server.
    Tls,
    /// Forwarded by a trusted reverse proxy (`X-SSL-CERT`).
    Proxy,
}

/// `GET /device/v1/whoami`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceIdentity {
    pub subject: String,
    pub serial: String,
    pub not_after: String,
    pub device_id: Option<i64>,
    pub via: PresentedVia,
}
