//! The benchmark's ceiling: an axum 0.8 server with one route answering `ok`, built and run the
//! way `pharos` is (release, mimalloc, multi-threaded tokio), without any of Pharos.
//!
//! `bare_axum 127.0.0.1:PORT`

use axum::{Router, routing::get};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let app = Router::new().route("/", get(|| async { "ok" }));
    axum::serve(listener, app).await?;
    Ok(())
}
