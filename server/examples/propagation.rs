//! The benchmark's propagation client: how long a setting saved on one server takes to be served,
//! and announced, by every other server sharing the database (in distributed mode).
//!
//! `propagation SAVES http://A http://B [http://C …]` listens to the event streams of B, C, …,
//! saves a changed document on A `SAVES` times (one after another, each with A's current ETag)
//! and prints one JSON line: for each save the time from sending it to the `settings_changed`
//! event for it, on the server that announced it last (`all`: a save counts as propagated once
//! every other server announced it) and on each server (`servers`), as p50, p99 and max in µs.
//! Every request carries `Authorization: $PHAROS_BENCH_AUTHORIZATION` (`Bearer …`: an API token
//! of the database the servers share).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[path = "../tests/support/sse.rs"]
mod sse;

type Http = Client<HttpConnector, Full<Bytes>>;

/// p50, p99 and max in µs, as JSON.
fn figures(mut times: Vec<Duration>) -> serde_json::Value {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_micros() as u64;
    serde_json::json!({"p50_us": at(0.5), "p99_us": at(0.99), "max_us": at(1.0)})
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 3,
        "usage: propagation SAVES http://A http://B [http://C …]"
    );
    let saves: usize = args[0].parse()?;
    let a = args[1].clone();
    let others: Vec<String> = args[2..].to_vec();
    let client: Http = Client::builder(TokioExecutor::new()).build_http();
    let authorization = std::env::var("PHAROS_BENCH_AUTHORIZATION")
        .map_err(|_| anyhow::anyhow!("PHAROS_BENCH_AUTHORIZATION: Bearer <an API token>"))?;

    // every other server's events: which server, the ETag of each settings change, when it came
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(usize, String, Instant)>();
    for (index, url) in others.iter().enumerate() {
        let stream = client
            .request(
                Request::get(format!("{url}/api/v1/events"))
                    .header("authorization", &authorization)
                    .body(Full::default())?,
            )
            .await?;
        anyhow::ensure!(
            stream.status() == StatusCode::OK,
            "events of {url}: {}",
            stream.status()
        );
        let seen_tx = seen_tx.clone();
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
                        let _ = seen_tx.send((index, etag, at));
                    }
                }
            }
            anyhow::Ok(())
        });
    }
    drop(seen_tx);

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
    let mut slowest = Vec::with_capacity(saves);
    let mut per_server: Vec<Vec<Duration>> = vec![Vec::with_capacity(saves); others.len()];
    // each save a real change: scan timeouts from 1000 to 50,999 ms, the first one after the
    // stored one
    let stored = document["scan"]["timeout_ms"].as_u64().unwrap_or(1000) as usize;
    for n in 0..saves {
        document["scan"]["timeout_ms"] =
            (1000 + (stored.saturating_sub(1000) + 1 + n) % 50_000).into();
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
        // each other server's event for this save (events of earlier saves are passed over)
        let mut arrived: HashMap<usize, Instant> = HashMap::new();
        while arrived.len() < others.len() {
            let (index, seen_etag, at) = tokio::time::timeout(Duration::from_secs(5), seen.recv())
                .await
                .map_err(|_| anyhow::anyhow!("save {n}: not announced by every server in 5 s"))?
                .ok_or_else(|| anyhow::anyhow!("an event stream ended"))?;
            if seen_etag == etag {
                arrived.entry(index).or_insert(at);
            }
        }
        for (index, at) in &arrived {
            per_server[*index].push(at.saturating_duration_since(sent));
        }
        let last = arrived.values().max().expect("at least one other server");
        slowest.push(last.saturating_duration_since(sent));
    }
    let servers: Vec<serde_json::Value> = others
        .iter()
        .zip(per_server)
        .map(|(url, times)| {
            let mut f = figures(times);
            f["url"] = url.clone().into();
            f
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({"saves": saves, "all": figures(slowest), "servers": servers})
    );
    Ok(())
}
