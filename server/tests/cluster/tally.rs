//! The simulator's tally (`pharos-devsim --tally`): which server queried which device, how
//! often, and the magic packets per MAC.

use super::ROUND_INTERVAL;
use super::processes::Server;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Deserialize, Clone, Copy, Debug, Default)]
pub struct FromSource {
    pub count: u64,
    pub first_ms: u64,
}

#[derive(Deserialize, Clone, Debug)]
pub struct Tally {
    pub written_ms: u64,
    pub status_queries: BTreeMap<String, BTreeMap<String, FromSource>>,
    pub magic_packets: BTreeMap<String, u64>,
}

impl Tally {
    pub fn read(path: &Path) -> Tally {
        let text = std::fs::read_to_string(path).expect("the tally");
        serde_json::from_str(&text).expect("the tally is JSON")
    }

    /// A fresh one: written after `after_ms`.
    pub async fn newer(path: &Path, after_ms: u64) -> Tally {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let tally = Tally::read(path);
            if tally.written_ms > after_ms {
                return tally;
            }
            assert!(Instant::now() < deadline, "the tally is not written");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn queries(&self, device: &str, source: &str) -> FromSource {
        self.status_queries
            .get(device)
            .and_then(|by| by.get(source))
            .copied()
            .unwrap_or_default()
    }
}

/// Over the window between two tallies: every device was queried by exactly one server, every
/// server's devices as often as each other (every round covers each of its devices once) and at
/// most once per round interval. Answers each device's server (its source address).
pub fn one_server_per_device(
    before: &Tally,
    after: &Tally,
    devices: &[String],
    servers: &[&Server],
    what: &str,
) -> BTreeMap<String, String> {
    let window = Duration::from_millis(after.written_ms - before.written_ms);
    let intervals = window.as_secs_f64() / ROUND_INTERVAL.as_secs_f64();
    // a round every interval at most (the ticker never fires early), so at most one more than
    // the intervals the window holds; at least half of them on a busy machine
    let (most, least) = (
        intervals.ceil() as u64 + 1,
        (intervals / 2.0).floor() as u64,
    );
    let mut owner = BTreeMap::new();
    let mut per_server: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for device in devices {
        let asked: Vec<(String, u64)> = servers
            .iter()
            .map(|s| s.udp.to_string())
            .map(|source| {
                let n =
                    after.queries(device, &source).count - before.queries(device, &source).count;
                (source, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(
            asked.len(),
            1,
            "{what}: device {device} was queried by {asked:?} in {window:?} (one server each)"
        );
        let (source, n) = asked.into_iter().next().unwrap();
        assert!(
            (least..=most).contains(&n),
            "{what}: device {device} was queried {n} times by {source} in {window:?} \
             ({least} to {most} rounds)"
        );
        per_server.entry(source.clone()).or_default().push(n);
        owner.insert(device.clone(), source);
    }
    for server in servers {
        let counts = per_server
            .get(&server.udp.to_string())
            .unwrap_or_else(|| panic!("{what}: {} checked no device", server.name));
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        // a tally written in the middle of a round splits it
        assert!(
            hi - lo <= 1,
            "{what}: the devices of {} were queried {lo} to {hi} times: not once per round each",
            server.name
        );
    }
    let shares: Vec<String> = servers
        .iter()
        .map(|s| {
            let counts = &per_server[&s.udp.to_string()];
            format!("{} {} devices × {} rounds", s.name, counts.len(), counts[0])
        })
        .collect();
    eprintln!(
        "[cluster] {what}: over {window:?}, every device queried by exactly one server: {}",
        shares.join(", ")
    );
    owner
}
