//! What both benchmark harnesses need: the release binaries, child processes that stop when
//! dropped, free ports, medians.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
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

/// Starts `command` (the release `pharos`, perhaps behind `taskset`, with the variables of its
/// benchmark) on a free port and the data directory `data`, its log in `log`; answers its URL once
/// it accepts connections.
pub fn start_pharos(mut command: Command, data: &Path, log: std::fs::File) -> (Process, String) {
    let port = free_port();
    std::fs::create_dir_all(data).unwrap();
    let mut child = Process(
        command
            .current_dir(workspace())
            .env("PHAROS_LISTEN", format!("127.0.0.1:{port}"))
            .env("PHAROS_DATA_DIR", data)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start pharos"),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url, &mut child);
    (child, url)
}
