//! Secrets handed to clients (session cookies, anti-forgery and API tokens) and passwords.
//! Handed-out secrets are stored only as their SHA-256; passwords as argon2id hashes, computed
//! off the async threads.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

/// The prefix of API tokens, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "pharos_";

/// A secret given to a client: shown once, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// 256 random bits, URL-safe.
    pub fn random() -> Secret {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Secret(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn api_token() -> Secret {
        Secret(format!("{TOKEN_PREFIX}{}", Secret::random().0))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps instead of the secret.
    pub fn digest(&self) -> String {
        digest(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// SHA-256 of a presented secret, hex: the key it is looked up by. A handed-out secret has
/// 256 random bits, so a fast hash is enough (no guessing to slow down).
pub fn digest(secret: &str) -> String {
    hex(&hash(secret))
}

/// SHA-256 of a presented secret: what a cached sign-in is found by.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub fn hex(hash: &[u8; 32]) -> String {
    let mut text = String::with_capacity(64);
    for byte in hash {
        use fmt::Write;
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// The hash a [`hex`] text names.
pub fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut hash = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(hash)
}

/// Compares two secrets in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Password hashes computed at once: one per core. Each takes argon2's memory (19 MiB), so a
/// burst of sign-ins waits its turn instead of exhausting memory.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// An argon2id hash (PHC string) of a password, computed on a blocking thread.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    let _turn = HASHING.acquire().await?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes(), &salt())
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// Whether `password` matches the stored hash, checked on a blocking thread. With no stored
/// hash (an unknown user) a dummy hash is checked, so the answer takes as long either way.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    let Ok(_turn) = HASHING.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(hash) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"not a password anyone has", &salt())
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// 128 random bits of salt.
fn salt() -> SaltString {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    SaltString::encode_b64(&bytes).expect("16 bytes are a valid salt")
}

/// A password generated for the superuser at first start: 20 characters from 64.
pub fn generated_password() -> String {
    let mut bytes = [0u8; 15];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify_password("correct horse batterY".into(), Some(hash)).await);
        assert!(!verify_password("anything".into(), None).await);
    }

    #[test]
    fn secrets_are_random_and_hidden() {
        let (a, b) = (Secret::api_token(), Secret::api_token());
        assert_ne!(a, b);
        assert!(a.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(format!("{a:?}"), "Secret(***)");
        assert_eq!(a.digest().len(), 64);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
