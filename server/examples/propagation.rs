//! The benchmark's propagation client: how long a setting saved on one server takes to be served,
//! and announced, by another server sharing the database.
//!
//! `propagation http://A http://B SAVES` listens to B's event stream, saves a changed document on
//! A `SAVES` times (one after another, each with A's current ETag) and prints
//! `<p50 µs> <p99 µs> <max µs>` of the time from sending each save to B's event for it. Every
//! request carries `Authorization: $PHAROS_BENCH_AUTHORIZATION` (`Bearer …`: an API token of
//! the database both servers share).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[path = "../tests/support/sse.rs"]
mod sse;

type Http = Client<HttpConnector, Full<Bytes>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (a, b) = (args[0].clone(), args[1].clone());
    let saves: usize = args.get(2).map_or(Ok(100), |s| s.parse())?;
    let client: Http = Client::builder(TokioExecutor::new()).build_http();
    let authorization = std::env::var("PHAROS_BENCH_AUTHORIZATION")
        .map_err(|_| anyhow::anyhow!("PHAROS_BENCH_AUTHORIZATION: Bearer <an API token>"))?;

    // B's events: the ETag of each settings change and when it arrived
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(String, Instant)>();
    let stream = client
        .request(
            Request::get(format!("{b}/api/v1/events"))
                .header("authorization", &authorization)
                .body(Full::default())?,
        )
        .await?;
    anyhow::ensure!(
        stream.status() == StatusCode::OK,
        "events: {}",
        stream.status()
    );
    tokio::spawn(async move {
        let mut body = stream.into_body();
        let mut buffer = String::new();
        while let Some(Ok(frame)) = body.frame().await {
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buffer.push_str(&String::from_utf8_lossy(&data));
            let at = Instant::now();
            for json in sse::take_events(&mut buffer) {
                let event: serde_json::Value = serde_json::from_str(&json)?;
                if event["type"] == "settings_changed" {
                    let etag = event["etag"].as_str().unwrap_or_default().to_owned();
                    let _ = seen_tx.send((etag, at));
                }
            }
        }
        anyhow::Ok(())
    });

    let current = client
        .request(
            Request::get(format!("{a}/api/v1/settings/network"))
                .header("authorization", &authorization)
                .body(Full::default())?,
        )
        .await?;
    let mut etag = current.headers()["etag"].to_str()?.to_owned();
    let mut document: serde_json::Value =
        serde_json::from_slice(&current.into_body().collect().await?.to_bytes())?;
    let mut times = Vec::with_capacity(saves);
    for n in 0..saves {
        document["scan"]["timeout_ms"] = (1000 + n % 50_000).into();
        let put = Request::put(format!("{a}/api/v1/settings/network"))
            .header("content-type", "application/json")
            .header("if-match", &etag)
            .header("authorization", &authorization)
            .body(Full::new(Bytes::from(document.to_string())))?;
        let sent = Instant::now();
        let answer = client.request(put).await?;
        anyhow::ensure!(
            answer.status() == StatusCode::OK,
            "save: {}",
            answer.status()
        );
        etag = answer.headers()["etag"].to_str()?.to_owned();
        answer.into_body().collect().await?;
        let arrived = loop {
            let (seen_etag, at) = tokio::time::timeout(Duration::from_secs(5), seen.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("B's event stream ended"))?;
            if seen_etag == etag {
                break at;
            }
        };
        times.push(arrived.saturating_duration_since(sent));
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_micros();
    println!("{} {} {}", at(0.5), at(0.99), at(1.0));
    Ok(())
}
