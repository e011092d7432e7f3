//! Who this server is: its id (kept in the data directory), name and addresses, and the lock that
//! keeps a second server off the same data directory.

use crate::config::Config;
use anyhow::Context;
use app::model::OwnAddress;
use std::fs::{File, TryLockError};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Fixed at start.
#[derive(Clone, Debug)]
pub struct Identity {
    pub id: String,
    pub name: String,
    pub addresses: Vec<String>,
    pub device_address: OwnAddress,
}

/// Held while the server runs: the operating system releases it when the process ends, however
/// it ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data directory for this process, or says which process has it.
pub fn lock_data_dir(dir: &Path) -> anyhow::Result<DataDirLock> {
    let path = dir.join("pharos.lock");
    let mut file = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            write!(file, "{}", std::process::id())?;
            Ok(DataDirLock { _file: file })
        }
        Err(TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            anyhow::bail!(
                "another Pharos server{} is already using the data directory {}; stop it or give \
                 this one its own PHAROS_DATA_DIR",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (process {holder})")
                },
                dir.display()
            )
        }
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

impl Identity {
    /// Reads (or creates) the id in the data directory and finds this server's addresses.
    pub fn load(config: &Config) -> anyhow::Result<Identity> {
        let id = server_id(&config.data_dir.join("server-id"))?;
        let name = config
            .server_name
            .clone()
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
        let interfaces: Vec<IpAddr> = if_addrs::get_if_addrs()
            .map(|list| list.into_iter().map(|i| i.ip()).collect())
            .unwrap_or_default();
        let listen_ip = config.listen.ip();
        let mut addresses: Vec<IpAddr> = Vec::new();
        if !listen_ip.is_unspecified() {
            addresses.push(listen_ip);
        }
        for ip in interfaces.iter().filter(|ip| !ip.is_loopback()) {
            if !addresses.contains(ip) {
                addresses.push(*ip);
            }
        }
        let detected = addresses
            .iter()
            .find(|ip| !ip.is_loopback())
            .or(addresses.first())
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| name.clone());
        Ok(Identity {
            id,
            name,
            addresses: addresses.iter().map(IpAddr::to_string).collect(),
            device_address: OwnAddress {
                public_address: config.public_address.clone(),
                address: detected,
                port: config.listen.port(),
            },
        })
    }
}

/// The id kept in `path`; a new one is written whole or not at all (a crash mid-write must not
/// leave an empty id that would make this server a stranger to its own database).
fn server_id(path: &PathBuf) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let id = uuid::Uuid::new_v4().to_string();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing a file in {}", dir.display()))?;
    file.write_all(id.as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    // the rename is durable only once the directory is
    File::open(dir)?.sync_all()?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_data_dir(dir.path()).unwrap();
        let err = lock_data_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("already using the data directory"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        lock_data_dir(dir.path()).expect("free again once released");
    }

    #[test]
    fn the_server_id_is_kept_and_an_empty_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server-id");
        let id = server_id(&path).unwrap();
        assert_eq!(server_id(&path).unwrap(), id);
        std::fs::write(&path, "").unwrap();
        let new = server_id(&path).unwrap();
        assert_ne!(new, id);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), new);
    }
}
