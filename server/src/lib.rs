//! The Pharos server: configuration, storage, REST API and the server-rendered UI.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

pub mod api;
pub mod config;
pub mod db;
pub mod state;

use anyhow::Context;
use app::settings::{Installation, NetworkSettings, ValidationContext};
use app::{App, PageBackend, api::PageData, shell};
use axum::{Router, extract::MatchedPath, http::Request, response::IntoResponse, routing::get};
use config::Config;
use db::{ServerRow, SqlStore, Store, now_millis};
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use state::{AppState, Identity};
use std::{
    future::Future,
    net::IpAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

/// A started server: state, routes and workers, not yet listening.
pub struct Pharos {
    pub state: Arc<AppState>,
    pub router: Router,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

/// Connects the database, registers this server and starts its workers.
pub async fn start(config: Config, shutdown: CancellationToken) -> anyhow::Result<Pharos> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let database = config.database_kind()?;
    let store: Arc<dyn Store> =
        Arc::new(SqlStore::connect(&config.database_url()?, database).await?);
    // Stored documents always keep the distributed section, so switching an installation
    // between kinds loses nothing.
    let stored = store
        .init_settings(&NetworkSettings::defaults(Installation::Standalone))
        .await
        .context("reading the stored settings")?;
    let identity = identity(&config)?;
    store
        .register_server(&ServerRow {
            id: identity.id.clone(),
            name: identity.name.clone(),
            addresses: identity.addresses.clone(),
            started_at: identity.started_at,
            last_heartbeat: identity.started_at,
        })
        .await
        .context("registering this server")?;
    let servers = store.servers().await.context("listing the servers")?;
    let ctx = ValidationContext {
        installation: config.installation,
        database,
    };
    let state = Arc::new(AppState::new(store, config, ctx, identity, stored, servers));
    tracing::info!(
        server = %state.identity.id,
        installation = ?state.ctx.installation,
        database = ?state.ctx.database,
        distributed = state.distributed_running,
        "server registered"
    );

    let tracker = TaskTracker::new();
    let heartbeat = state.config.heartbeat_interval();
    tracker.spawn(repeat("heartbeat", heartbeat, shutdown.clone(), {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move { state.heartbeat().await.map_err(anyhow::Error::from) }
        }
    }));
    if database == app::settings::DatabaseKind::Postgres {
        tracker.spawn(repeat(
            "settings-poll",
            state.config.settings_poll(),
            shutdown.clone(),
            {
                let state = state.clone();
                move || {
                    let state = state.clone();
                    async move { state.poll_settings().await.map_err(anyhow::Error::from) }
                }
            },
        ));
    }
    let router = router(state.clone(), leptos_options(&state.config));
    Ok(Pharos {
        state,
        router,
        tracker,
        shutdown,
    })
}

impl Pharos {
    /// Stops the workers without having served (tests, tools).
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Serves until the shutdown token fires, lets running requests finish, then stops the workers.
pub async fn serve(pharos: Pharos, listener: TcpListener) -> anyhow::Result<()> {
    let app = pharos
        .router
        .clone()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(pharos.shutdown.clone().cancelled_owned())
        .await
        .context("serving HTTP")?;
    pharos.stop().await;
    Ok(())
}

pub async fn launch(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let pharos = start(config, shutdown).await?;
    serve(pharos, listener).await
}

/// Runs `step` every `interval` until cancelled; a failed step is logged and retried next time.
async fn repeat<F, Fut>(name: &'static str, interval: Duration, token: CancellationToken, step: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let span = tracing::info_span!("worker", name);
    let _guard = span.enter();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = ticker.tick() => {
                if let Err(e) = step().await {
                    tracing::warn!(error = format!("{e:#}"), "worker step failed");
                }
            }
        }
    }
}

struct Backend(Arc<AppState>);

impl PageBackend for Backend {
    fn page_data(&self) -> PageData {
        self.0.page_data()
    }
}

pub fn router(state: Arc<AppState>, options: LeptosOptions) -> Router {
    let backend: Arc<dyn PageBackend> = Arc::new(Backend(state.clone()));
    let web = Router::new()
        .leptos_routes_with_context(
            &options,
            generate_route_list(App),
            move || provide_context(backend.clone()),
            {
                let options = options.clone();
                move || shell(options.clone())
            },
        )
        // Pages are rendered whole (async SSR) but leave the renderer in many small chunks;
        // sending them as one body saves a write and a TCP segment per chunk.
        .layer(axum::middleware::map_response(whole_body))
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api::routes().with_state(state))
        .merge(web)
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let path = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("");
                tracing::info_span!("request", method = %request.method(), path)
            }),
        )
}

async fn whole_body(response: axum::response::Response) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => axum::response::Response::from_parts(parts, axum::body::Body::from(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Where the built site is: configured, else `target/site` here, else beside the executable
/// (`target/release/pharos` → `target/site`).
fn site_root(config: &Config) -> PathBuf {
    if let Some(root) = &config.site_root {
        return root.clone();
    }
    if let Ok(root) = std::env::var("LEPTOS_SITE_ROOT") {
        return PathBuf::from(root);
    }
    let here = PathBuf::from("target/site");
    if here.join("pkg").is_dir() {
        return here;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("site")))
        .filter(|p| p.join("pkg").is_dir())
        .unwrap_or(here)
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("pharos")
        .site_root(site_root(config).to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build()
}

/// This server's id (kept in the data directory across restarts), name and addresses.
fn identity(config: &Config) -> anyhow::Result<Identity> {
    let id_file = config.data_dir.join("server-id");
    let id = match std::fs::read_to_string(&id_file) {
        Ok(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => {
            let id = uuid::Uuid::new_v4().to_string();
            write_new_file(&id_file, &id)?;
            id
        }
    };
    let name = config
        .server_name
        .clone()
        .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    let interfaces: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|list| list.into_iter().map(|i| i.ip()).collect())
        .unwrap_or_default();
    let listen_ip = config.listen.ip();
    let mut addresses: Vec<IpAddr> = Vec::new();
    if !listen_ip.is_unspecified() {
        addresses.push(listen_ip);
    }
    for ip in interfaces.iter().filter(|ip| !ip.is_loopback()) {
        if !addresses.contains(ip) {
            addresses.push(*ip);
        }
    }
    let detected = addresses
        .iter()
        .find(|ip| !ip.is_loopback())
        .or(addresses.first())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| name.clone());
    Ok(Identity {
        id,
        name,
        addresses: addresses.iter().map(IpAddr::to_string).collect(),
        started_at: now_millis(),
        device_address: app::addresses::OwnAddress {
            public_address: config.public_address.clone(),
            address: detected,
            port: config.listen.port(),
        },
    })
}

fn write_new_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}
