//! Private keys are stored sealed (AES-256-GCM) with a key that never enters the database: the
//! file `secret.key` in the data directory, made at first start, or `PHAROS_SECRET_KEY`. Servers
//! sharing one database need the same one.

use anyhow::Context;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use std::io::Write;
use std::path::Path;

const KEY_LEN: usize = 32;
pub const KEY_FILE: &str = "secret.key";

pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// A sealed value could not be opened: another key sealed it, or it was altered.
#[derive(Debug, thiserror::Error)]
#[error("a stored private key cannot be decrypted with this server's key")]
pub struct Unsealable;

impl Sealer {
    /// The key from `PHAROS_SECRET_KEY` (base64 of 32 bytes) if given, else from the data
    /// directory's key file, which is made if missing (readable by this user only).
    pub fn load(given: Option<&str>, data_dir: &Path) -> anyhow::Result<Sealer> {
        let bytes = match given {
            Some(text) => decode(text).context(
                "PHAROS_SECRET_KEY must be 32 random bytes in base64 (openssl rand -base64 32)",
            )?,
            None => read_or_make(&data_dir.join(KEY_FILE))?,
        };
        Sealer::from_bytes(&bytes)
    }

    /// The key as [`Sealer::load`] finds it, never made: for the command line, which must open
    /// what the servers sealed.
    pub fn existing(given: Option<&str>, data_dir: &Path) -> anyhow::Result<Sealer> {
        let path = data_dir.join(KEY_FILE);
        if given.is_none() && !path.exists() {
            anyhow::bail!(
                "PHAROS_SECRET_KEY is not set and {} does not exist: give the command the \
                 server's data directory (PHAROS_DATA_DIR) or its secret key",
                path.display()
            );
        }
        Sealer::load(given, data_dir)
    }

    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Sealer> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| anyhow::anyhow!("the secret key must be {KEY_LEN} bytes"))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
        })
    }

    /// `plain` sealed and bound to `context` (the certificate's fingerprint), so a sealed key
    /// moved to another row does not open.
    pub fn seal(&self, plain: &[u8], context: &str) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .expect("AES-GCM seals any length Pharos stores");
        let mut out = nonce_bytes.to_vec();
        out.append(&mut sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, Unsealable> {
        if sealed.len() < NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| Unsealable)?;
        Ok(plain.to_vec())
    }
}

fn decode(text: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim())?;
    anyhow::ensure!(
        bytes.len() == KEY_LEN,
        "{} bytes, not {KEY_LEN}",
        bytes.len()
    );
    Ok(bytes)
}

fn read_or_make(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            return decode(&text).with_context(|| format!("reading the key in {}", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let bytes: [u8; KEY_LEN] = rand::random();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing a file in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(
        file,
        "{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )?;
    file.as_file().sync_all()?;
    // never over a key that appeared meanwhile (copied in by an operator): that one is used
    match file.persist_noclobber(path) {
        Ok(_) => Ok(bytes.to_vec()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => read_or_make(path),
        Err(e) => Err(e.error).with_context(|| format!("writing {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load(None, dir.path()).unwrap();
        let sealed = sealer.seal(b"private", "fp1");
        assert_eq!(sealer.open(&sealed, "fp1").unwrap(), b"private");
        assert!(sealer.open(&sealed, "fp2").is_err());
        // the same file gives the same key
        let again = Sealer::load(None, dir.path()).unwrap();
        assert_eq!(again.open(&sealed, "fp1").unwrap(), b"private");
        let other = Sealer::from_bytes(&[7; 32]).unwrap();
        assert!(other.open(&sealed, "fp1").is_err());
        assert!(Sealer::load(Some("c2hvcnQ="), dir.path()).is_err());
    }
}
