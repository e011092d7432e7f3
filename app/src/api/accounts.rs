//! Sign-in, the signed-in administrator, API tokens, accounts and groups with their rights, and
//! the security log.

use crate::model::{Area, Grant, Rights};
use serde::{Deserialize, Serialize};

pub const LOGIN_URL: &str = "/api/v1/auth/login";
pub const LOGOUT_URL: &str = "/api/v1/auth/logout";
/// `GET`: the signed-in administrator ([`Me`]).
pub const ME_URL: &str = "/api/v1/auth/me";
/// `POST`: change one's own password ([`PasswordChange`]).
pub const PASSWORD_URL: &str = "/api/v1/auth/password";
/// `GET`: one's tokens; `POST` ([`NewToken`], also under HTTP Basic): a new one, shown once.
pub const TOKENS_URL: &str = "/api/v1/auth/tokens";
pub const USERS_URL: &str = "/api/v1/accounts/users";
pub const GROUPS_URL: &str = "/api/v1/accounts/groups";
/// `GET`: source addresses locked out after failed sign-ins; `DELETE …/{address}` unlocks one.
pub const LOCKOUTS_URL: &str = "/api/v1/accounts/lockouts";
pub const SECURITY_LOG_URL: &str = "/api/v1/security-log";

/// The sign-in page's path.
pub const LOGIN_PAGE: &str = "/login";
/// The sign-in page that leads back to `here` (a path and query of this site) once signed in.
pub fn sign_in_page(here: &str) -> String {
    let mut next = String::with_capacity(here.len());
    for byte in here.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            next.push(char::from(byte));
        } else {
            next.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{LOGIN_PAGE}?next={next}")
}

/// Where the sign-in page may lead after signing in: `next` if it is a path of this site, never
/// another site (`//host`, `/\\host`, which browsers read as `//host`, or with a tab or line
/// break inside, which browsers drop).
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control);
    local.then_some(next)
}

/// The cookie holding a browser's session (`HttpOnly`).
pub const SESSION_COOKIE: &str = "pharos_session";
/// The cookie the page reads its anti-forgery token from; every state-changing request of a
/// signed-in browser sends it back in [`CSRF_HEADER`].
pub const CSRF_COOKIE: &str = "pharos_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// `POST /api/v1/auth/login`.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// The signed-in administrator and what they may do.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub rights: Rights,
}

impl Me {
    pub fn can_read(&self, area: Area) -> bool {
        self.rights.can_read(area)
    }

    pub fn can_write(&self, area: Area) -> bool {
        self.rights.can_write(area)
    }
}

#[derive(Serialize, Deserialize, Clone, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// `POST /api/v1/auth/tokens`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewToken {
    pub name: String,
    /// Days until it expires; absent: until revoked.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// The answer to [`NewToken`]: the only time the token is shown.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub id: i64,
    pub token: String,
    pub name: String,
    pub expires_at: Option<String>,
}

/// A token as listed (never the token itself).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// An administrator account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub id: i64,
    pub username: String,
    pub superuser: bool,
    pub disabled: bool,
    /// Ids of the groups the account belongs to.
    pub groups: Vec<i64>,
    /// The account's own grants (its groups' come on top).
    pub grants: Vec<Grant>,
    /// What the account may do, all grants taken together.
    pub rights: Rights,
    /// RFC 3339: locked out after failed sign-ins until then.
    pub locked_until: Option<String>,
    pub created_at: String,
    pub last_sign_in: Option<String>,
    /// Changes with every edit: send it back with the next one.
    pub revision: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub members: Vec<i64>,
    pub grants: Vec<Grant>,
    pub revision: i64,
}

/// `GET /api/v1/accounts/users` (with the groups, which the accounts page shows beside them).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccountList {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

/// `POST /api/v1/accounts/users`.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewUser {
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/accounts/groups`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewGroup {
    pub name: String,
}

/// `PATCH /api/v1/accounts/users/{id}`: what to change; `revision` is the one the change is based
/// on (412 if someone changed the account since).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserUpdate {
    pub revision: i64,
    #[serde(default)]
    pub disabled: Option<bool>,
    /// The account's own grants, all of them.
    #[serde(default)]
    pub grants: Option<Vec<Grant>>,
    /// The groups it belongs to, all of them.
    #[serde(default)]
    pub groups: Option<Vec<i64>>,
}

/// `PATCH /api/v1/accounts/groups/{id}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupUpdate {
    pub revision: i64,
    #[serde(default)]
    pub grants: Option<Vec<Grant>>,
    #[serde(default)]
    pub members: Option<Vec<i64>>,
}

/// `POST /api/v1/accounts/users/{id}/password`: the superuser sets a new password.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    pub password: String,
}

/// A source address locked out after failed sign-ins.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Lockout {
    pub address: String,
    pub locked_until: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LockoutList {
    pub lockouts: Vec<Lockout>,
}

/// One entry of the security log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecurityEntry {
    pub id: i64,
    pub at: String,
    /// `sign_in`, `sign_in_failed`, `sign_out`, `locked_out`, `unlocked`, `token_created`,
    /// `token_revoked`, `password_changed`, `password_reset`, `account_created`,
    /// `account_changed`, `account_deleted`, `group_created`, `group_changed`, `group_deleted`,
    /// `session_expired`.
    pub event: String,
    pub username: Option<String>,
    /// Who did it, where someone else than `username` did (the superuser resetting a password).
    pub actor: Option<String>,
    pub source: Option<String>,
    pub detail: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecurityPage {
    pub entries: Vec<SecurityEntry>,
    pub next_before: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_leads_back_here() {
        assert_eq!(
            sign_in_page("/devices?status=online&offset=50"),
            "/login?next=/devices%3Fstatus%3Donline%26offset%3D50"
        );
        assert_eq!(
            sign_in_page("/scans?scan=a b"),
            "/login?next=/scans%3Fscan%3Da%20b"
        );
    }

    #[test]
    fn only_local_paths_follow_sign_in() {
        assert_eq!(local_path("/jobs?x=1"), Some("/jobs?x=1"));
        assert_eq!(local_path("/"), Some("/"));
        for foreign in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "evil",
            "",
        ] {
            assert_eq!(local_path(foreign), None, "{foreign:?}");
        }
    }
}

/// The requests and answers that carry a password or a token show it as `***` when debugged.
macro_rules! debug_hiding {
    ($type:ident, $($shown:ident),*; $($hidden:ident),*) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($hidden), &"***"))*
                    .finish()
            }
        }
    };
}

debug_hiding!(Login, username; password);
debug_hiding!(PasswordChange, ; current, new);
debug_hiding!(NewUser, username; password);
debug_hiding!(PasswordReset, ; password);
debug_hiding!(CreatedToken, id, name, expires_at; token);
