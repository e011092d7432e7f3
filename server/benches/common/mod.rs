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

/// The superuser's password of every server a benchmark starts.
pub const ADMIN_PASSWORD: &str = "bench-superuser-2026";

/// One HTTP/1.1 request on a fresh connection: the status, the `Set-Cookie` values and the body.
pub fn request(
    url: &str,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, Vec<String>, String) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cookies = head
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
        })
        .collect();
    (status, cookies, body.to_owned())
}

/// `Authorization: Bearer …` of a new API token of the superuser, got the way a script gets one.
pub fn bearer(url: &str) -> String {
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("admin:{ADMIN_PASSWORD}"),
    );
    let (status, _, body) = request(
        url,
        "POST",
        "/api/v1/auth/tokens",
        &[
            format!("Authorization: Basic {basic}"),
            "Content-Type: application/json".into(),
        ],
        r#"{"name": "benchmark"}"#,
    );
    assert_eq!(status, 201, "a token: {body}");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    format!("Authorization: Bearer {}", value["token"].as_str().unwrap())
}

/// `Cookie: …` of a new browser session of the superuser.
#[allow(dead_code)] // (the HTTP benchmark's, not the discovery one's)
pub fn session_cookie(url: &str) -> String {
    let (status, cookies, body) = request(
        url,
        "POST",
        "/api/v1/auth/login",
        &["Content-Type: application/json".into()],
        &format!(r#"{{"username": "admin", "password": "{ADMIN_PASSWORD}"}}"#),
    );
    assert_eq!(status, 200, "signed in: {body}");
    format!("Cookie: {}", cookies.join("; "))
}
