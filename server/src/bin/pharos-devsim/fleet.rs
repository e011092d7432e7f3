//! The simulated devices: who they are (derived from the seed and their addresses) and what state
//! they are in.

use pharos_protocol::{DeviceInfo, Mac};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    time::Instant,
};

pub struct Device {
    pub info: DeviceInfo,
    /// Silent until a Wake-on-LAN packet with its MAC arrives.
    pub asleep: bool,
    /// Silent until then: the device is restarting.
    pub rebooting_until: Option<Instant>,
}

impl Device {
    pub fn is_silent(&self, now: Instant) -> bool {
        self.asleep || self.rebooting_until.is_some_and(|until| now < until)
    }
}

/// Devices on consecutive IPv4 addresses from `first`.
pub struct Fleet {
    first: u32,
    pub devices: Vec<Device>,
    by_mac: HashMap<Mac, usize>,
}

/// One device as the manifest lists it.
#[derive(Serialize)]
pub struct ManifestEntry<'a> {
    ip: IpAddr,
    mac: String,
    hostname: &'a str,
    os_generation: u8,
    os_version: &'a str,
    serial: &'a str,
    asleep: bool,
}

const SITES: [&str; 6] = ["desk", "kiosk", "lab", "ward", "office", "counter"];

impl Fleet {
    /// The same seed and addresses give the same devices, and the same ones asleep.
    pub fn generate(first: Ipv4Addr, count: u32, seed: u64, asleep_fraction: f64) -> Fleet {
        let first = u32::from(first);
        let mut fleet_rng = StdRng::seed_from_u64(seed);
        let mac_prefix: [u8; 5] = fleet_rng.random();
        let devices: Vec<Device> = (0..count)
            .map(|index| {
                let ip = first + index;
                let mut rng = StdRng::seed_from_u64(seed.rotate_left(32) ^ u64::from(ip));
                // Locally administered and unicast; the address's low 24 bits (distinct across
                // any range the simulator accepts) keep MACs unique.
                let [_, b1, b2, b3] = ip.to_be_bytes();
                let mac = Mac([
                    0x02,
                    mac_prefix[0],
                    mac_prefix[1],
                    b1 ^ mac_prefix[2],
                    b2 ^ mac_prefix[3],
                    b3 ^ mac_prefix[4],
                ]);
                let site = SITES[rng.random_range(0..SITES.len())];
                let os_generation = rng.random_range(1..=4);
                Device {
                    info: DeviceInfo {
                        mac,
                        ip: IpAddr::V4(Ipv4Addr::from(ip)),
                        os_generation,
                        os_version: format!(
                            "{os_generation}.{}.{}",
                            rng.random_range(0..10),
                            rng.random_range(0..30)
                        ),
                        hostname: format!(
                            "{site}-{:02x}{:02x}{:02x}",
                            mac.0[3], mac.0[4], mac.0[5]
                        ),
                        serial: format!("PH{:010}", rng.random_range(0..10_000_000_000u64)),
                    },
                    asleep: false,
                    rebooting_until: None,
                }
            })
            .collect();
        let mut fleet = Fleet {
            first,
            by_mac: devices
                .iter()
                .enumerate()
                .map(|(index, device)| (device.info.mac, index))
                .collect(),
            devices,
        };
        let asleep = (f64::from(count) * asleep_fraction).round() as usize;
        for index in rand::seq::index::sample(&mut fleet_rng, count as usize, asleep) {
            fleet.devices[index].asleep = true;
        }
        fleet
    }

    /// The device at this address, if any.
    pub fn index_of(&self, ip: Ipv4Addr) -> Option<usize> {
        let offset = u32::from(ip).checked_sub(self.first)?;
        let index = offset as usize;
        (index < self.devices.len()).then_some(index)
    }

    pub fn ip(&self, index: usize) -> Ipv4Addr {
        Ipv4Addr::from(self.first + index as u32)
    }

    /// Wakes the device with this MAC; true if it was asleep.
    pub fn wake(&mut self, mac: &Mac) -> bool {
        match self.by_mac.get(mac) {
            Some(&index) => std::mem::replace(&mut self.devices[index].asleep, false),
            None => false,
        }
    }

    pub fn manifest(&self) -> Vec<ManifestEntry<'_>> {
        self.devices
            .iter()
            .map(|device| ManifestEntry {
                ip: device.info.ip,
                mac: device.info.mac.to_string(),
                hostname: &device.info.hostname,
                os_generation: device.info.os_generation,
                os_version: &device.info.os_version,
                serial: &device.info.serial,
                asleep: device.asleep,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fleet() {
        let first = Ipv4Addr::new(127, 1, 0, 1);
        let a = Fleet::generate(first, 500, 7, 0.2);
        let b = Fleet::generate(first, 500, 7, 0.2);
        let c = Fleet::generate(first, 500, 8, 0.2);
        let json = |fleet: &Fleet| serde_json::to_string(&fleet.manifest()).unwrap();
        assert_eq!(json(&a), json(&b));
        assert_ne!(json(&a), json(&c));
        assert_eq!(a.devices.iter().filter(|d| d.asleep).count(), 100);
        assert_eq!(a.by_mac.len(), 500, "MACs are unique");
    }

    #[test]
    fn addresses_map_to_devices() {
        let fleet = Fleet::generate(Ipv4Addr::new(127, 1, 0, 250), 10, 1, 0.0);
        assert_eq!(fleet.index_of(Ipv4Addr::new(127, 1, 0, 250)), Some(0));
        assert_eq!(fleet.index_of(Ipv4Addr::new(127, 1, 1, 3)), Some(9));
        assert_eq!(fleet.index_of(Ipv4Addr::new(127, 1, 1, 4)), None);
        assert_eq!(fleet.index_of(Ipv4Addr::new(127, 1, 0, 249)), None);
        assert_eq!(fleet.ip(9), Ipv4Addr::new(127, 1, 1, 3));
    }
}
