//! The independent clients the certificate tests use (openssl, curl) and the file juggling
//! around them.

use std::path::Path;
use std::process::Command;

/// openssl with `args` (and `input` on its standard input): its standard output, or a panic
/// with what it said.
pub fn openssl(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        stdin.write_all(input).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The same with text in and out.
pub fn openssl_text(args: &[&str], input: Option<&str>) -> String {
    String::from_utf8_lossy(&openssl(args, input.map(str::as_bytes))).into_owned()
}

/// What curl got: the status (0 when no HTTP answer came, a refused handshake say) and the body,
/// followed by anything curl said about it.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// curl with `args`.
pub fn curl(args: &[&str]) -> Answer {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    Answer {
        status: status.trim().parse().unwrap_or(0),
        body: format!("{body}{}", String::from_utf8_lossy(&out.stderr)),
    }
}

pub fn b64(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// The certificates of an EST answer (base64 certs-only PKCS#7, line breaks allowed) as PEM.
pub fn certs_of(answer: &str) -> String {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(answer.split_whitespace().collect::<String>())
        .expect("base64");
    String::from_utf8(openssl(
        &["pkcs7", "-inform", "DER", "-print_certs"],
        Some(&der),
    ))
    .unwrap()
}

/// Writes `content` to `dir/name`; the path.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

/// The serial of a PEM certificate, lower-case hex as Pharos lists it.
pub fn serial_of(pem: &str) -> String {
    openssl_text(&["x509", "-noout", "-serial"], Some(pem))
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
}
