//! The enrollment benchmark's baseline: a plain loop that signs the same certificate requests
//! with the same library as Pharos (rcgen on aws-lc-rs), and nothing else: no HTTP, no TLS, no
//! database, no enrollment key.
//!
//! `plain_sign FILE [SECONDS]` reads the requests `est_load csrs` wrote (one base64 DER request
//! a line, decoded before the clock starts), makes an EC P-256 CA, and then, on as many threads as it
//! may use (run under `taskset -c 1`: one, as the server has), parses each request with
//! `CertificateSigningRequestParams::from_der` (which verifies its signature) and signs a client
//! certificate for it as Pharos's device CA does (a year, a random serial, not a CA, digital
//! signature, client authentication, the authority key identifier, no names the request asks
//! for). It goes through the requests again until SECONDS have passed (at least once), so that
//! a side that signs ten times faster than Pharos enrolls is still measured for seconds. Prints
//! `<signings per second> <threads> <CPU µs per signing>` (CPU time of the loop alone).

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("plain_sign FILE [SECONDS]"))?;
    let seconds: f64 = args.next().map_or(Ok(0.0), |s| s.parse())?;
    let requests = std::fs::read_to_string(file)?
        .lines()
        .map(|line| base64::engine::general_purpose::STANDARD.decode(line))
        .collect::<Result<Vec<_>, _>>()?;

    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "Plain Device CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_der = ca.self_signed(&ca_key)?.der().to_vec();

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let now = time::OffsetDateTime::now_utc();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let signed: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<usize> {
                    let issuer = Issuer::from_ca_cert_der(
                        &CertificateDer::from(ca_der.as_slice()),
                        &ca_key,
                    )?;
                    let mut bytes = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= requests.len() && started.elapsed().as_secs_f64() >= seconds {
                            return Ok(bytes);
                        }
                        let der = &requests[i % requests.len()];
                        let mut csr = CertificateSigningRequestParams::from_der(
                            &CertificateSigningRequestDer::from(der.as_slice()),
                        )?;
                        let mut serial: [u8; 16] = rand::random();
                        serial[0] = (serial[0] & 0x7f) | 0x01;
                        let params = &mut csr.params;
                        params.not_before = now - Duration::from_secs(3600);
                        params.not_after = now + Duration::from_secs(365 * 86_400);
                        params.serial_number = Some(SerialNumber::from_slice(&serial));
                        params.is_ca = IsCa::ExplicitNoCa;
                        params.subject_alt_names.clear();
                        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                        params.use_authority_key_identifier_extension = true;
                        bytes += csr.signed_by(&issuer)?.der().len();
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a signing thread"))
            .sum::<anyhow::Result<usize>>()
    })?;
    let (elapsed, cpu) = (started.elapsed(), cpu_seconds() - cpu);
    anyhow::ensure!(signed > 0, "nothing signed");
    // every index handed out below the stop signed one request; one per thread was the stop
    let count = next.load(Ordering::Relaxed) - threads;
    println!(
        "{:.1} {threads} {:.1}",
        count as f64 / elapsed.as_secs_f64(),
        cpu * 1e6 / count as f64
    );
    Ok(())
}

/// CPU seconds this process has used (user + system, every thread; 10 ms resolution).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat[stat.rfind(')').map_or(0, |i| i + 2)..]
        .split(' ')
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
