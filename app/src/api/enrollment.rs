//! Device enrollment: the one-time keys that authorise a device's first EST enrollment.

use serde::{Deserialize, Serialize};

/// `GET`: the keys ([`EnrollmentKeyList`]); `POST` ([`NewEnrollmentKey`]): a new one, its secret
/// shown once ([`CreatedEnrollmentKey`]); `DELETE …/{id}` revokes one.
pub const ENROLLMENT_KEYS_URL: &str = "/api/v1/enrollment/keys";

/// `POST /api/v1/enrollment/keys`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
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
#[serde(rename_all = "snake_case")]
pub enum EnrollmentKeyState {
    Active,
    UsedUp,
    Expired,
    Revoked,
}

/// A key as listed: never its secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
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
pub struct EnrollmentKeyList {
    pub keys: Vec<EnrollmentKey>,
}
