//! `--tally FILE`: what the devices received, by whom, written to a file a test reads while the
//! simulator runs. Per device, the status queries from each source address (how many, the first
//! and the last, in Unix milliseconds); per MAC, the Wake-on-LAN magic packets. The file is
//! replaced whole (written beside it, then renamed), so a reader never sees half of it.

use anyhow::Context;
use pharos_protocol::Mac;
use serde::Serialize;
use std::{
    collections::BTreeMap,
    net::Ipv4Addr,
    path::PathBuf,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// How often the file is written while something changed.
pub const EVERY: Duration = Duration::from_millis(250);

#[derive(Serialize, Default, Clone, Copy)]
struct FromSource {
    count: u64,
    first_ms: u64,
    last_ms: u64,
}

#[derive(Serialize)]
struct File<'a> {
    /// When this file was written (Unix milliseconds).
    written_ms: u64,
    /// Device address → source address → queries.
    status_queries: &'a BTreeMap<Ipv4Addr, BTreeMap<Ipv4Addr, FromSource>>,
    /// MAC (`02:ab:…`) → magic packets, whether or not a device has that MAC.
    magic_packets: &'a BTreeMap<String, u64>,
}

pub struct Tally {
    path: PathBuf,
    status_queries: BTreeMap<Ipv4Addr, BTreeMap<Ipv4Addr, FromSource>>,
    magic_packets: BTreeMap<String, u64>,
    changed: bool,
    next_write: Instant,
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Tally {
    /// Starts with an empty file, so a reader finds one from the ready line on.
    pub fn create(path: PathBuf) -> anyhow::Result<Tally> {
        let mut tally = Tally {
            path,
            status_queries: BTreeMap::new(),
            magic_packets: BTreeMap::new(),
            changed: true,
            next_write: Instant::now(),
        };
        tally.write()?;
        Ok(tally)
    }

    pub fn status_query(&mut self, device: Ipv4Addr, from: Ipv4Addr) {
        let now = unix_millis();
        let entry = self
            .status_queries
            .entry(device)
            .or_default()
            .entry(from)
            .or_insert(FromSource {
                count: 0,
                first_ms: now,
                last_ms: now,
            });
        entry.count += 1;
        entry.last_ms = now;
        self.changed = true;
    }

    pub fn magic_packet(&mut self, mac: &Mac) {
        *self.magic_packets.entry(mac.to_string()).or_default() += 1;
        self.changed = true;
    }

    /// How long the loop may wait before [`Tally::tick`] has something to do.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.changed
            .then(|| self.next_write.saturating_duration_since(now))
    }

    /// Writes the file if something changed and its time has come.
    pub fn tick(&mut self, now: Instant) -> anyhow::Result<()> {
        if self.changed && now >= self.next_write {
            self.write()?;
        }
        Ok(())
    }

    /// Writes the file now (also at exit).
    pub fn write(&mut self) -> anyhow::Result<()> {
        let json = serde_json::to_vec(&File {
            written_ms: unix_millis(),
            status_queries: &self.status_queries,
            magic_packets: &self.magic_packets,
        })?;
        let mut partial = self.path.clone().into_os_string();
        partial.push(".partial");
        std::fs::write(&partial, json).with_context(|| format!("writing {partial:?}"))?;
        std::fs::rename(&partial, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))?;
        self.changed = false;
        self.next_write = Instant::now() + EVERY;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_source_and_mac_and_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tally.json");
        let mut tally = Tally::create(path.clone()).unwrap();
        let read = || -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
        };
        assert_eq!(read()["status_queries"], serde_json::json!({}));
        let (device, a, b) = (
            Ipv4Addr::new(127, 1, 0, 1),
            Ipv4Addr::new(127, 0, 0, 11),
            Ipv4Addr::new(127, 0, 0, 12),
        );
        tally.status_query(device, a);
        tally.status_query(device, a);
        tally.status_query(device, b);
        tally.magic_packet(&Mac([2, 0, 0, 0, 0, 1]));
        assert!(tally.wait(Instant::now()).is_some(), "something to write");
        tally.write().unwrap();
        assert_eq!(tally.wait(Instant::now()), None, "nothing new");
        let file = read();
        let queries = &file["status_queries"]["127.1.0.1"];
        assert_eq!(queries["127.0.0.11"]["count"], 2);
        assert_eq!(queries["127.0.0.12"]["count"], 1);
        assert!(
            queries["127.0.0.11"]["first_ms"].as_u64() <= queries["127.0.0.11"]["last_ms"].as_u64()
        );
        assert_eq!(file["magic_packets"]["02:00:00:00:00:01"], 1);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["tally.json"], "no partial file left");
    }
}
