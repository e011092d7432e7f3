//! `pharos`: starts the server with the configuration from `pharos.toml` and `PHAROS_*`.

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

// Rendering pages allocates a lot of small, short-lived values; mimalloc handles that pattern
// with less contention between threads than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // the one crypto provider of every TLS configuration in the process
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = <server::cli::Cli as clap::Parser>::parse();
    match cli.command {
        None | Some(server::cli::Command::Serve) if cli.target.url.is_some() => {
            eprintln!("pharos: --url goes with a command (see pharos --help); a server serves");
            std::process::exit(2);
        }
        None | Some(server::cli::Command::Serve) => serve().await,
        Some(command) => {
            // the commands' own messages are the output; the library's logs only warnings (a
            // refused certificate is said in the command's own message)
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                    EnvFilter::new("warn,sqlx=error,rustls_platform_verifier=off")
                }))
                .init();
            if let Err(server::cli::Failed(message)) = server::cli::run(&cli.target, command).await
            {
                eprintln!("pharos: {message}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    // rustls warns once per handshake about what a client sent (an IP address as the server
    // name, as curl and wrk send for https://127.0.0.1): a line per connection, no news
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,rustls=error")),
        )
        .init();
    let config = server::config::Config::load()?;
    tracing::info!(?config, "starting");
    for name in server::config::unknown_env_vars() {
        tracing::warn!(
            variable = name,
            "this PHAROS_ variable configures nothing; ignored"
        );
    }
    let base = config.base_path()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let shutdown = CancellationToken::new();
    let pharos = server::start(config, shutdown.clone()).await?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        // listening on every interface: this machine's loopback is one of them
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let scheme = if pharos.tls.enabled { "https" } else { "http" };
    if pharos.tls.enabled {
        println!(
            "The web root CA's SHA-256 fingerprint: {} (download it from {scheme}://{addr}{base}/ca.pem)",
            colons(&pharos.tls.root_fingerprint())
        );
    }
    println!("Pharos is ready: {scheme}://{addr}{base}/settings/network (sign in as \"admin\")");
    tokio::spawn(drain_on_signal(shutdown));
    server::serve(pharos, listener).await
}

/// SIGINT and SIGTERM both stop accepting requests and let running ones finish.
async fn drain_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// `AB:CD:…`, as browsers and `openssl x509 -fingerprint` show fingerprints.
fn colons(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}
