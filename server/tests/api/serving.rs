//! Serving over TCP: the client's address, draining at shutdown and its time limit.

use super::*;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::sync::mpsc;

type Sender = hyper::client::conn::http1::SendRequest<StreamBody<Chunks>>;
type Chunk = Result<Frame<bytes::Bytes>, Infallible>;
type Chunks = tokio_stream::wrappers::ReceiverStream<Chunk>;

fn no_body() -> StreamBody<Chunks> {
    StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(
        mpsc::channel(1).1,
    ))
}

/// A connection the server has accepted and answered on (a first `GET /healthz`), so what the
/// test sends next is read by the server, not waiting in the listen backlog.
async fn connect(addr: std::net::SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let health = hyper::Request::get("/healthz")
        .header("host", "pharos")
        .body(no_body())
        .unwrap();
    let answer = sender.send_request(health).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.into_body().collect().await.unwrap();
    sender
}

/// A `PUT` whose body is sent in pieces, whenever the test says.
fn slow_put(document: &str) -> (hyper::Request<StreamBody<Chunks>>, mpsc::Sender<Chunk>) {
    let (tx, rx) = mpsc::channel(4);
    let request = hyper::Request::put("/api/v1/settings/network")
        .header("host", "pharos")
        .header("content-type", "application/json")
        .header("content-length", document.len())
        .header("if-match", "*")
        .body(StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .unwrap();
    (request, tx)
}

async fn serve(
    config: Config,
) -> (
    std::net::SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let token = CancellationToken::new();
    let pharos = crate::launch(config, token.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, token, tokio::spawn(server::serve(pharos, listener)))
}

/// A request still arriving when the server is asked to stop completes; the change and its
/// audit row (with the client's address) outlive the server.
#[tokio::test]
async fn a_request_in_flight_at_shutdown_completes() {
    let env = Env::new(Db::Sqlite).await;
    let (addr, token, serving) = serve(env.config("one", "standalone")).await;
    let mut sender = connect(addr).await;
    let mut doc = defaults();
    doc["scan"]["timeout_ms"] = json!(7777);
    let text = doc.to_string();
    let (request, body) = slow_put(&text);
    let response = tokio::spawn(async move { sender.send_request(request).await });
    let (head, tail) = text.split_at(text.len() / 2);
    body.send(Ok(Frame::data(bytes::Bytes::from(head.to_owned()))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    token.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!serving.is_finished(), "the server waits for the request");
    body.send(Ok(Frame::data(bytes::Bytes::from(tail.to_owned()))))
        .await
        .unwrap();
    drop(body);
    let response = response.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stored: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(stored["scan"]["timeout_ms"], 7777);
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("the server stops once the request is done")
        .unwrap()
        .unwrap();

    let again = env.start().await;
    let audit = get(&again.router, "/api/v1/audit").await;
    assert_eq!(audit.body["entries"][0]["source"], "127.0.0.1");
    assert_eq!(audit.body["entries"][0]["new_value"], 7777);
    again.stop().await;
}

/// A request that never finishes does not hold the server past the shutdown time limit, and
/// nothing of it is stored.
#[tokio::test]
async fn shutdown_has_a_time_limit() {
    let env = Env::new(Db::Sqlite).await;
    let mut config = env.config("one", "standalone");
    config.shutdown_timeout_secs = 1;
    let (addr, token, serving) = serve(config).await;
    let mut sender = connect(addr).await;
    let mut doc = defaults();
    doc["scan"]["timeout_ms"] = json!(7300);
    let text = doc.to_string();
    let (request, body) = slow_put(&text);
    let _response = tokio::spawn(async move { sender.send_request(request).await });
    body.send(Ok(Frame::data(bytes::Bytes::from(text[..10].to_owned()))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = tokio::time::Instant::now();
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("the limit stops the server")
        .unwrap()
        .unwrap();
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "it waited for the request first ({took:?})"
    );
    assert!(
        took < Duration::from_secs(5),
        "and no longer than the limit ({took:?})"
    );
    drop(body);
    let again = env.start().await;
    let stored = get(&again.router, "/api/v1/settings/network").await;
    assert_eq!(
        stored.body["scan"]["timeout_ms"], 6000,
        "the cut-off change was not stored"
    );
    assert_eq!(
        get(&again.router, "/api/v1/audit").await.body["entries"],
        json!([])
    );
    again.stop().await;
}

/// Open event streams end when the server stops instead of holding it until the time limit.
#[tokio::test]
async fn event_streams_end_at_shutdown() {
    let env = Env::new(Db::Sqlite).await;
    let mut config = env.config("one", "standalone");
    config.shutdown_timeout_secs = 30;
    let (addr, token, serving) = serve(config).await;
    let mut sender = connect(addr).await;
    let request = hyper::Request::get("/api/v1/events")
        .header("host", "pharos")
        .body(StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(mpsc::channel(1).1),
        ))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("resync"));
    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the stream ended and the server stopped well before the 30 s limit")
        .unwrap()
        .unwrap();
    let rest = tokio::time::timeout(Duration::from_secs(5), body.collect()).await;
    assert!(rest.is_ok(), "the stream ended");
}

/// The front end's files: a copy compressed at build time is sent when the client takes it;
/// without content-hashed names (no `hash.txt` beside the binary) browsers must revalidate.
#[tokio::test]
async fn package_files_are_sent_precompressed() {
    let env = Env::new(Db::Sqlite).await;
    let pkg = env.dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("pharos.css"), "body { margin: 0 }").unwrap();
    std::fs::write(pkg.join("pharos.css.br"), "brotli bytes").unwrap();
    std::fs::write(pkg.join("pharos.css.gz"), "gzip bytes").unwrap();
    let app = env.start().await;
    let css = |encoding: &'static str| {
        let router = app.router.clone();
        async move {
            call(
                &router,
                Method::GET,
                "/pkg/pharos.css",
                &[("accept-encoding", encoding)],
                None,
            )
            .await
        }
    };
    let br = css("br, gzip").await;
    assert_eq!(br.status, StatusCode::OK);
    assert_eq!(br.headers[header::CONTENT_ENCODING], "br");
    assert_eq!(br.text, "brotli bytes");
    assert_eq!(br.headers[header::CACHE_CONTROL], "no-cache");
    let gzip = css("gzip").await;
    assert_eq!(gzip.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gzip.text, "gzip bytes");
    let plain = css("identity").await;
    assert!(plain.headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(plain.text, "body { margin: 0 }");
    app.stop().await;
}
