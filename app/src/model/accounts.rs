//! Administrator accounts: usernames, passwords, and rights per administration area.

use super::FieldError;
use serde::{Deserialize, Serialize};

/// The account created at first start; it cannot be restricted, disabled or deleted.
pub const SUPERUSER: &str = "admin";
pub const USERNAME_MAX_LEN: usize = 64;
pub const GROUP_NAME_MAX_LEN: usize = 64;
pub const PASSWORD_MIN_LEN: usize = 12;
pub const PASSWORD_MAX_LEN: usize = 256;
/// Characters a username may not hold (as in the reference product and directory services: they
/// separate, quote or match names elsewhere), besides control characters and spaces.
pub const USERNAME_FORBIDDEN: &str = "\"/\\[]:;|=,+*?<>@'`%&#";
pub const TOKEN_NAME_MAX_LEN: usize = 100;
/// The longest a script's token may be valid for.
pub const TOKEN_MAX_DAYS: u32 = 3650;

/// An administration area: rights are granted per area.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Area {
    NetworkSettings,
    Certificates,
    /// Devices, the online check and scans.
    Devices,
    Jobs,
    Accounts,
    /// The audit and security logs.
    Audit,
}

impl Area {
    pub const ALL: [Area; 6] = [
        Area::NetworkSettings,
        Area::Certificates,
        Area::Devices,
        Area::Jobs,
        Area::Accounts,
        Area::Audit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Area::NetworkSettings => "network_settings",
            Area::Certificates => "certificates",
            Area::Devices => "devices",
            Area::Jobs => "jobs",
            Area::Accounts => "accounts",
            Area::Audit => "audit",
        }
    }

    pub fn parse(text: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// As the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Area::NetworkSettings => "Server Network Settings",
            Area::Certificates => "Certificates",
            Area::Devices => "Devices and scans",
            Area::Jobs => "Jobs",
            Area::Accounts => "Accounts",
            Area::Audit => "Audit",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

/// One right of a user or a group.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Grant {
    pub area: Area,
    pub access: Access,
    pub effect: Effect,
}

/// What a signed-in administrator may do, per area.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Rights {
    pub superuser: bool,
    pub read: Vec<Area>,
    pub write: Vec<Area>,
}

impl Rights {
    pub fn superuser() -> Rights {
        Rights {
            superuser: true,
            read: Area::ALL.to_vec(),
            write: Area::ALL.to_vec(),
        }
    }

    /// The rights from every grant of a user and of their groups: an access is had when some
    /// grant allows it and none denies it (a Deny always wins, wherever it comes from). Writing
    /// an area also needs reading it: nobody changes what they may not see.
    pub fn from_grants<'a>(grants: impl IntoIterator<Item = &'a Grant>) -> Rights {
        let mut allowed = std::collections::HashSet::new();
        let mut denied = std::collections::HashSet::new();
        for grant in grants {
            match grant.effect {
                Effect::Allow => allowed.insert((grant.area, grant.access)),
                Effect::Deny => denied.insert((grant.area, grant.access)),
            };
        }
        let has =
            |area, access| allowed.contains(&(area, access)) && !denied.contains(&(area, access));
        let read: Vec<Area> = Area::ALL
            .into_iter()
            .filter(|&a| has(a, Access::Read))
            .collect();
        let write = Area::ALL
            .into_iter()
            .filter(|&a| has(a, Access::Write) && read.contains(&a))
            .collect();
        Rights {
            superuser: false,
            read,
            write,
        }
    }

    pub fn can(&self, area: Area, access: Access) -> bool {
        match access {
            Access::Read => self.read.contains(&area),
            Access::Write => self.write.contains(&area),
        }
    }

    pub fn can_read(&self, area: Area) -> bool {
        self.can(area, Access::Read)
    }

    pub fn can_write(&self, area: Area) -> bool {
        self.can(area, Access::Write)
    }
}

/// A username as stored (trimmed), or what is wrong with it.
pub fn validate_username(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("enter a username".into());
    }
    if name.chars().count() > USERNAME_MAX_LEN {
        return Err(format!("at most {USERNAME_MAX_LEN} characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || USERNAME_FORBIDDEN.contains(*c))
    {
        let shown = if c.is_whitespace() || c.is_control() {
            "spaces and control characters".to_owned()
        } else {
            format!("“{c}”")
        };
        return Err(format!(
            "{shown} may not appear in a username (not allowed: spaces and {USERNAME_FORBIDDEN})"
        ));
    }
    Ok(name.to_owned())
}

/// Usernames are unique regardless of case: `Alice` and `alice` are one account.
pub fn username_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A group's name as stored, or what is wrong with it.
pub fn validate_group_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("enter a name".into());
    }
    if name.chars().count() > GROUP_NAME_MAX_LEN {
        return Err(format!("at most {GROUP_NAME_MAX_LEN} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("control characters may not appear in a name".into());
    }
    Ok(name.to_owned())
}

/// Passwords every guesser tries first.
const COMMON: &[&str] = &[
    "password", "passw0rd", "123456", "qwerty", "letmein", "welcome", "admin", "changeme",
    "iloveyou", "monkey", "dragon", "abc123", "trustno1", "pharos",
];

/// The minimum strength: long enough, not one character repeated or a run of a few, not the
/// username, not built on a password every guesser tries first.
pub fn check_password(password: &str, username: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < PASSWORD_MIN_LEN {
        return Err(format!(
            "use at least {PASSWORD_MIN_LEN} characters (this one has {length})"
        ));
    }
    if length > PASSWORD_MAX_LEN {
        return Err(format!("use at most {PASSWORD_MAX_LEN} characters"));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Err("use more different characters (at least 5)".into());
    }
    let lower = password.to_lowercase();
    let user = username_key(username);
    if !user.is_empty() && lower.contains(&user) {
        return Err("the password may not contain the username".into());
    }
    if let Some(common) = COMMON.iter().find(|c| lower.contains(*c)) {
        return Err(format!(
            "the password may not be built on “{common}”, which every guesser tries first"
        ));
    }
    Ok(())
}

/// A new account's fields, checked.
pub fn validate_new_user(username: &str, password: &str) -> Result<String, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = validate_username(username).map_err(|e| errors.push(FieldError::new("username", e)));
    if let Err(e) = check_password(password, username) {
        errors.push(FieldError::new("password", e));
    }
    match name {
        Ok(name) if errors.is_empty() => Ok(name),
        _ => Err(errors),
    }
}

/// A token's name, checked.
pub fn validate_token_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("name the token (the script that uses it, say)".into());
    }
    if name.chars().count() > TOKEN_NAME_MAX_LEN {
        return Err(format!("at most {TOKEN_NAME_MAX_LEN} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("control characters may not appear in a name".into());
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(area: Area, access: Access, effect: Effect) -> Grant {
        Grant {
            area,
            access,
            effect,
        }
    }

    #[test]
    fn deny_wins_and_write_needs_read() {
        let rights = Rights::from_grants(&[
            grant(Area::Devices, Access::Read, Effect::Allow),
            grant(Area::Devices, Access::Write, Effect::Allow),
            grant(Area::Jobs, Access::Read, Effect::Allow),
            grant(Area::Jobs, Access::Read, Effect::Deny),
            grant(Area::Audit, Access::Write, Effect::Allow),
        ]);
        assert!(rights.can_read(Area::Devices) && rights.can_write(Area::Devices));
        assert!(!rights.can_read(Area::Jobs), "a deny beats an allow");
        assert!(
            !rights.can_write(Area::Audit),
            "write without read is no write"
        );
        assert!(!rights.can_read(Area::Accounts));
        assert!(Rights::superuser().can_write(Area::Accounts));
    }

    #[test]
    fn usernames() {
        assert_eq!(validate_username("  alice ").unwrap(), "alice");
        assert_eq!(validate_username("ops.team-1_é").unwrap(), "ops.team-1_é");
        for bad in [
            "",
            "a b",
            "a/b",
            "a\\b",
            "a:b",
            "a@b",
            "x\u{7}",
            "a<b",
            &"x".repeat(65),
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
        assert_eq!(username_key(" Alice"), "alice");
    }

    #[test]
    fn passwords() {
        assert!(check_password("correct horse battery", "alice").is_ok());
        assert!(check_password("short", "alice").unwrap_err().contains("12"));
        assert!(check_password("aaaaaaaaaaaaaaa", "alice").is_err());
        assert!(check_password("xx-alice-2026-yy", "Alice").is_err());
        assert!(check_password("MyPassword2026!", "bob").is_err());
    }
}
