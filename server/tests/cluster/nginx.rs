//! nginx's files for the cluster: its own certificate, and docs/nginx/pharos.conf with the
//! upstream block of docs/nginx/pharos-cluster.conf, filled in as docs/reverse-proxy.md says.

use super::processes::Server;
use super::{PROXY_BIND, command, repo};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

pub fn certificates(dir: &Path) {
    let openssl = |args: &str| {
        let args: Vec<&str> = args.split_whitespace().collect();
        command("openssl", &args, dir)
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    let out = Command::new("openssl")
        .args(format!("req -x509 {ec} -days 2 -keyout nginx-ca.key -out nginx-ca.pem").split(' '))
        .args(["-subj", "/CN=nginx test root"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    openssl(&format!(
        "req -new {ec} -subj /CN=localhost -keyout nginx.key -out nginx.csr"
    ));
    std::fs::write(
        dir.join("nginx.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n\
         basicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        "x509 -req -in nginx.csr -CA nginx-ca.pem -CAkey nginx-ca.key -CAcreateserial -days 2 \
         -extfile nginx.ext -out nginx.pem",
    );
}

/// docs/nginx/pharos.conf with its upstream block replaced by docs/nginx/pharos-cluster.conf,
/// every placeholder filled in, as docs/reverse-proxy.md says; and the `http` block around it.
pub fn configuration(
    dir: &Path,
    servers: &[&Server],
    web: u16,
    device: u16,
    enroll: u16,
    prefix: &str,
) {
    let single = std::fs::read_to_string(repo().join("docs/nginx/pharos.conf")).unwrap();
    let cluster = std::fs::read_to_string(repo().join("docs/nginx/pharos-cluster.conf")).unwrap();
    let start = single
        .find("upstream pharos {")
        .expect("pharos.conf's upstream block");
    let end = start + single[start..].find("\n}\n").expect("its end") + 3;
    let mut conf = format!("{}{}{}", &single[..start], cluster, &single[end..]);
    let dir_text = dir.display().to_string();
    let file = |name: &str| format!("{dir_text}/{name}");
    let fills = [
        ("@PHAROS_1@", servers[0].addr().to_string()),
        ("@PHAROS_2@", servers[1].addr().to_string()),
        ("@PHAROS_3@", servers[2].addr().to_string()),
        ("@WEB_LISTEN@", format!("127.0.0.1:{web}")),
        ("@DEVICE_LISTEN@", format!("127.0.0.1:{device}")),
        ("@ENROLL_LISTEN@", format!("127.0.0.1:{enroll}")),
        ("@PHAROS_NAME@", "localhost".into()),
        ("@CERT@", file("nginx.pem")),
        ("@KEY@", file("nginx.key")),
        ("@PHAROS_CA@", file("pharos-ca.pem")),
        ("@PROXY_BIND@", PROXY_BIND.into()),
        ("@CLIENT_CHAIN@", file("client-chain.pem")),
        ("@CRL@", file("device-ca.crl.pem")),
        ("@EST_PREFIX@", prefix.into()),
    ];
    for (placeholder, value) in fills {
        conf = conf.replace(placeholder, &value);
    }
    let left: Vec<&str> = conf
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('@'))
        .collect();
    assert!(left.is_empty(), "placeholders left: {left:?}");
    std::fs::write(dir.join("pharos.conf"), conf).unwrap();
    // as root, workers would otherwise run as nobody, who cannot enter the directory
    let user = if command("id", &["-u"], dir).trim() == "0" {
        "user root;"
    } else {
        ""
    };
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "{user}
worker_processes 1;
pid {dir_text}/nginx.pid;
error_log {dir_text}/error.log info;
events {{ worker_connections 512; }}
http {{
    log_format upstreams '$server_port $request_method $uri $status upstream=$upstream_addr';
    access_log {dir_text}/access.log upstreams;
    client_body_temp_path {dir_text}/tmp-body;
    proxy_temp_path {dir_text}/tmp-proxy;
    fastcgi_temp_path {dir_text}/tmp-fastcgi;
    uwsgi_temp_path {dir_text}/tmp-uwsgi;
    scgi_temp_path {dir_text}/tmp-scgi;
    include {dir_text}/pharos.conf;
}}
"
        ),
    )
    .unwrap();
}

/// From nginx's access log: per listener port, how many requests each upstream server answered,
/// and how many requests were passed on to another server after one failed.
pub fn upstreams_used(dir: &Path) -> (BTreeMap<String, BTreeMap<String, u64>>, u64) {
    let log = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
    let mut used: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut retried = 0;
    for line in log.lines() {
        let Some((head, upstreams)) = line.split_once(" upstream=") else {
            continue;
        };
        let port = head.split(' ').next().unwrap_or_default().to_owned();
        let list: Vec<&str> = upstreams.split(", ").collect();
        if list.len() > 1 {
            retried += 1;
        }
        if let Some(last) = list.last().filter(|u| u.contains(':')) {
            *used
                .entry(port)
                .or_default()
                .entry(last.to_string())
                .or_default() += 1;
        }
    }
    (used, retried)
}
