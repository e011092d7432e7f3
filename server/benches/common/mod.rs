//! What both benchmark harnesses need: the release binaries, child processes that stop when
//! dropped, free ports, medians.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn binary(relative: &str) -> PathBuf {
    let path = workspace().join("target/release").join(relative);
    assert!(
        path.is_file(),
        "{} is missing: run the benchmark with scripts/bench, which builds it",
        path.display()
    );
    path
}

/// A child process that is stopped when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_ready(url: &str, child: &mut Process) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    while Instant::now() < deadline {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("{url} exited at start: {status}");
        }
        if std::net::TcpStream::connect(&addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not start");
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}
