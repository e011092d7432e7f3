//! The device simulator (`pharos-devsim`) as a child process of a test or benchmark: started on
//! free loopback ports, waited for, read back through its manifest, killed when dropped.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

pub struct Simulator {
    child: Child,
    /// What it prints after the ready line (`enrolled=…` in enrollment mode).
    stdout: BufReader<ChildStdout>,
    pub port: u16,
    pub wol_port: u16,
    /// One entry per device: ip, mac, hostname, os_generation, os_version, serial, asleep.
    pub devices: Vec<Value>,
    _dir: tempfile::TempDir,
}

/// A UDP port nobody uses at the moment.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

impl Simulator {
    /// `count` devices from `first`, with extra arguments (`--offline-fraction 0.2`, …).
    pub fn start(binary: &Path, count: usize, first: Ipv4Addr, extra: &[&str]) -> Simulator {
        assert!(first.is_loopback(), "simulated devices stay on loopback");
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest: PathBuf = dir.path().join("devices.json");
        let port = free_udp_port();
        let wol_port = free_udp_port();
        let mut child = Command::new(binary)
            .args(["--devices", &count.to_string()])
            .args(["--first-ip", &first.to_string()])
            .args(["--port", &port.to_string()])
            .args(["--wol-port", &wol_port.to_string()])
            .arg("--manifest")
            .arg(&manifest)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the simulator starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("the simulator says it is ready");
        assert!(line.starts_with("ready "), "simulator: {line:?}");
        let devices: Vec<Value> =
            serde_json::from_slice(&std::fs::read(&manifest).expect("the manifest"))
                .expect("the manifest is JSON");
        assert_eq!(devices.len(), count);
        Simulator {
            child,
            stdout,
            port,
            wol_port,
            devices,
            _dir: dir,
        }
    }

    /// The next line it prints (blocking until it comes); empty once it has exited.
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("reading the simulator's output");
        line
    }

    pub fn awake(&self) -> impl Iterator<Item = &Value> {
        self.devices.iter().filter(|d| d["asleep"] == false)
    }

    pub fn asleep(&self) -> impl Iterator<Item = &Value> {
        self.devices.iter().filter(|d| d["asleep"] == true)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
