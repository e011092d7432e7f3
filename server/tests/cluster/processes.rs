//! The real processes of the cluster test, each stopped when its guard is dropped (also when the
//! test fails): a PostgreSQL of its own (initdb and pg_ctl from Debian's packages, restartable),
//! Pharos servers (the `pharos` binary), and nginx (never the system service).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{command:?}: {text}");
    text
}

fn running_as_root() -> bool {
    let id = run(Command::new("id").arg("-u"));
    id.trim() == "0"
}

/// A PostgreSQL cluster made for this test in a temporary directory, on a free loopback port,
/// its socket in that directory too. PostgreSQL refuses to run as root: as root, it runs as the
/// `postgres` user of Debian's package, which owns the directory.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL from Debian's packages: run scripts/setup --test")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .expect("initdb in /usr/lib/postgresql/*/bin");
        let dir = tempfile::Builder::new()
            .prefix("pharos-cluster-pg")
            .tempdir()
            .unwrap();
        let as_postgres = running_as_root();
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let pg = Postgres {
            dir,
            bin,
            as_postgres,
            port: free_port(),
        };
        let data = pg.data();
        run(pg
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data));
        pg.ctl(&["start"]);
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let tool = self.bin.join(tool);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(tool);
            command
        } else {
            Command::new(tool)
        }
    }

    fn ctl(&self, args: &[&str]) -> String {
        let options = format!(
            "-p {} -h 127.0.0.1 -k {} -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("postgres.log"))
            .args(["-w", "-t", "60", "-o", &options])
            .args(args))
    }

    /// Stops it (fast: connections are cut, what is committed is kept) and starts it again.
    pub fn restart(&self) {
        self.ctl(&["-m", "fast", "restart"]);
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("postgres.log"));
            let log = log.unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            eprintln!("--- the end of PostgreSQL's log ---\n{tail}");
        }
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// One `pharos` process, started (and started again) with the same configuration.
pub struct Server {
    pub name: String,
    pub port: u16,
    /// The address of its discovery sockets: the source of its status queries.
    pub udp: Ipv4Addr,
    env: Vec<(String, String)>,
    dir: PathBuf,
    child: Option<Child>,
    starts: usize,
}

impl Server {
    pub fn new(name: &str, udp: Ipv4Addr, dir: &Path, env: &[(&str, String)]) -> Server {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let mut all: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        all.extend([
            ("PHAROS_LISTEN".into(), format!("127.0.0.1:{port}")),
            (
                "PHAROS_DATA_DIR".into(),
                dir.join("data").display().to_string(),
            ),
            ("PHAROS_SERVER_NAME".into(), name.into()),
            ("PHAROS_UDP_BIND".into(), udp.to_string()),
        ]);
        Server {
            name: name.into(),
            port,
            udp,
            env: all,
            dir,
            child: None,
            starts: 0,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pharos.log")).unwrap_or_default()
    }

    /// The last lines of its log, for a failure's message.
    pub fn tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Starts it and waits until it says it is ready.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} runs already", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("pharos.log"))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_pharos"));
        // only this test's configuration: no variable of the caller's, no pharos.toml
        for (name, _) in std::env::vars() {
            if name.starts_with("PHAROS_") {
                command.env_remove(name);
            }
        }
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(
                "RUST_LOG",
                "info,sqlx=warn,rustls=error,server::http=warn,tower_http=warn",
            )
            .env("NO_COLOR", "1")
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(command.spawn().expect("pharos starts"));
        self.starts += 1;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.log().matches("Pharos is ready").count() < self.starts {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("{} stopped ({status}):\n{}", self.name, self.tail());
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready within a minute:\n{}",
                self.name,
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`: no goodbye, no cleanup.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, and waits until it has stopped (cleanly: it says it left).
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "{} stopped with {status}", self.name);
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{} did not stop within 30 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- the end of {}'s log ---\n{}", self.name, self.tail());
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// nginx in the foreground with its own prefix directory; stopped with SIGTERM when dropped (its
/// master then stops the workers).
pub struct Nginx {
    child: Child,
    pub dir: PathBuf,
}

pub const NGINX: &str = "/usr/sbin/nginx";

impl Nginx {
    /// Runs nginx on `dir/nginx.conf` and waits until every port in `ports` accepts.
    pub fn start(dir: &Path, ports: &[u16]) -> Nginx {
        let log = std::fs::File::create(dir.join("nginx.out")).unwrap();
        let child = Command::new(NGINX)
            .args(["-e", "stderr", "-p"])
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("nginx runs");
        let mut nginx = Nginx {
            child,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while ports
            .iter()
            .any(|port| std::net::TcpStream::connect(("127.0.0.1", *port)).is_err())
        {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx stopped ({status}): {}", nginx.output());
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen: {}",
                nginx.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        nginx
    }

    pub fn output(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("nginx.out"), read("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- nginx's output ---\n{}", self.output());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
