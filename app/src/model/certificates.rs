//! Certificates: the key algorithms Pharos generates, and the rules for the names, lifetimes and
//! passwords an administrator types (checked as they type and again by the server).

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The longest a DNS name may be (RFC 1035 §2.3.4, without the final dot).
pub const HOSTNAME_MAX_LEN: usize = 253;
pub const LABEL_MAX_LEN: usize = 63;
/// A root's default lifetime, as in the reference product: 20 years.
pub const ROOT_DEFAULT_DAYS: u32 = 20 * 365;
pub const ROOT_MAX_DAYS: u32 = 100 * 365;
/// A server certificate's default lifetime: one year.
pub const LEAF_DEFAULT_DAYS: u32 = 365;
pub const LEAF_MAX_DAYS: u32 = 20 * 365;
/// Under this many days left, a certificate is shown as expiring soon.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// A PKCS#12 export's password protects a private key: at least this long.
pub const P12_PASSWORD_MIN_LEN: usize = 8;
pub const CERT_NAME_MAX_LEN: usize = 64;

/// The key types Pharos generates.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum KeyAlgorithm {
    #[default]
    #[serde(rename = "ec-p256")]
    EcP256,
    #[serde(rename = "ec-p384")]
    EcP384,
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    #[serde(rename = "rsa-4096")]
    Rsa4096,
}

impl KeyAlgorithm {
    pub const ALL: [KeyAlgorithm; 5] = [
        KeyAlgorithm::EcP256,
        KeyAlgorithm::EcP384,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
    ];

    /// The name in the API (`ec-p256`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcP256 => "ec-p256",
            KeyAlgorithm::EcP384 => "ec-p384",
            KeyAlgorithm::Rsa2048 => "rsa-2048",
            KeyAlgorithm::Rsa3072 => "rsa-3072",
            KeyAlgorithm::Rsa4096 => "rsa-4096",
        }
    }

    /// The name people read (`EC P-256`).
    pub fn label(self) -> &'static str {
        match self {
            KeyAlgorithm::EcP256 => "EC P-256",
            KeyAlgorithm::EcP384 => "EC P-384",
            KeyAlgorithm::Rsa2048 => "RSA 2048",
            KeyAlgorithm::Rsa3072 => "RSA 3072",
            KeyAlgorithm::Rsa4096 => "RSA 4096",
        }
    }

    pub fn parse(text: &str) -> Option<KeyAlgorithm> {
        KeyAlgorithm::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// A name a certificate may hold: an IP address, a DNS name, or a wildcard name whose `*` is the
/// whole leftmost label of a name with at least two more labels (`*.pharos.example`). Returns the
/// name as it goes into the certificate (DNS names in lower case), or why it cannot.
pub fn hostname(text: &str) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() {
        return Err("a host name cannot be empty".into());
    }
    let unbracketed = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    let len = name.chars().count();
    if len > HOSTNAME_MAX_LEN {
        return Err(format!(
            "\"{}…\" is {len} characters long; a host name has at most {HOSTNAME_MAX_LEN}",
            name.chars().take(20).collect::<String>()
        ));
    }
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        if label.contains('*') {
            if i != 0 || *label != "*" {
                return Err(format!(
                    "\"{name}\": a wildcard stands for a whole name part, and only the leftmost \
                     one (*.example.com)"
                ));
            }
            if labels.len() < 3 {
                return Err(format!(
                    "\"{name}\": a wildcard needs at least two name parts after it \
                     (*.example.com, not *.com)"
                ));
            }
            continue;
        }
        if label.is_empty() {
            return Err(format!(
                "\"{name}\" has an empty name part (two dots in a row?)"
            ));
        }
        if label.len() > LABEL_MAX_LEN {
            return Err(format!(
                "\"{name}\": the part \"{label}\" is {} characters long; at most {LABEL_MAX_LEN}",
                label.len()
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "\"{name}\" contains \"{bad}\"; a host name has only letters, digits, hyphens \
                 and dots (internationalised names in their xn-- form)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "\"{name}\": the part \"{label}\" starts or ends with a hyphen"
            ));
        }
    }
    Ok(name)
}

/// The list of names for a certificate: each valid, none twice, at least one.
pub fn hostnames(list: &[String]) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::with_capacity(list.len());
    for text in list {
        let name = hostname(text)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err("a server certificate needs at least one host name".into());
    }
    Ok(names)
}

/// A lifetime in days, between 1 and `max`.
pub fn validity_days(days: u32, max: u32) -> Result<u32, String> {
    if days == 0 || days > max {
        return Err(format!(
            "the validity is {days} days; it must be between 1 and {max} days"
        ));
    }
    Ok(days)
}

/// A display name for a generated certificate (its subject's common name).
pub fn certificate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("give the certificate a name".into());
    }
    if name.chars().count() > CERT_NAME_MAX_LEN {
        return Err(format!(
            "the name is longer than {CERT_NAME_MAX_LEN} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the name contains a control character".into());
    }
    Ok(name.to_owned())
}

pub fn p12_password(password: &str) -> Result<(), String> {
    if password.chars().count() < P12_PASSWORD_MIN_LEN {
        return Err(format!(
            "the export's password protects a private key: at least {P12_PASSWORD_MIN_LEN} \
             characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(
            hostname("Pharos.Example.COM.").unwrap(),
            "pharos.example.com"
        );
        assert_eq!(hostname("*.example.com").unwrap(), "*.example.com");
        assert_eq!(hostname("10.0.0.1").unwrap(), "10.0.0.1");
        assert_eq!(hostname("[::1]").unwrap(), "::1");
        assert_eq!(hostname("localhost").unwrap(), "localhost");
        for bad in [
            "",
            "*.com",
            "a.*.example.com",
            "w*.example.com",
            "a..b",
            "-a.example",
            "a b.example",
            "ü.example",
        ] {
            assert!(hostname(bad).is_err(), "{bad}");
        }
        let long = format!("{}.example", "a".repeat(60)).repeat(5);
        assert!(
            hostname(&long[..256])
                .unwrap_err()
                .contains("256 characters")
        );
        assert!(hostname(&format!("{}.example", "a".repeat(64))).is_err());
    }

    #[test]
    fn lists_drop_repeats_and_need_one_name() {
        assert_eq!(
            hostnames(&["A.example".into(), "a.example".into(), "::1".into()]).unwrap(),
            vec!["a.example".to_owned(), "::1".to_owned()]
        );
        assert!(hostnames(&[]).is_err());
    }

    #[test]
    fn algorithms_round_trip() {
        for a in KeyAlgorithm::ALL {
            assert_eq!(KeyAlgorithm::parse(a.as_str()), Some(a));
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::json!(a.as_str())
            );
        }
    }
}
