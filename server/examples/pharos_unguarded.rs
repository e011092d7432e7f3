//! `pharos` with the authentication layer and the rights guard left out: the baseline of the
//! HTTP benchmark's signed-in rows (server/benches/http.rs). Never deploy it.

use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let config = server::config::Config::load()?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let pharos = server::start_unguarded(config, CancellationToken::new()).await?;
    server::serve(pharos, listener).await
}
