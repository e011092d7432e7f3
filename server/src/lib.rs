//! The Pharos server. This file only launches: it connects the areas (each in its own folder,
//! on top of the shared `db`, `http`, `workers` and `cluster`) and serves them.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

pub mod accounts;
pub mod audit;
mod backup;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod discovery;
pub mod est;
pub mod http;
pub mod metrics;
mod router;
pub mod settings;
mod site;
pub mod status;
pub mod tls;
pub mod workers;

use anyhow::Context;
use app::model::{DatabaseKind, Installation, ValidationContext};
use axum::Router;
use cluster::{Bus, DataDirLock, Identity, Registry};
use config::Config;
use db::{Backend, Db};
use settings::Settings;
use status::Status;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workers::Workers;

/// A boxed future, for the traits the shared parts ask the areas through.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A started server: its areas, routes and workers, not yet listening.
pub struct Pharos {
    pub router: Router,
    pub status: Status,
    pub db: Db,
    pub bus: Bus,
    pub discovery: Arc<discovery::Discovery>,
    pub accounts: Arc<accounts::Accounts>,
    pub tls: Arc<tls::Tls>,
    pub est: Arc<est::Est>,
    /// Every API route with its rights rule.
    pub routes: Arc<Vec<http::RouteRule>>,
    pub metrics: Arc<metrics::Metrics>,
    workers: Workers,
    shutdown_timeout: Duration,
    _lock: DataDirLock,
}

/// Connects the database, registers this server and starts its workers.
pub async fn start(config: Config, shutdown: CancellationToken) -> anyhow::Result<Pharos> {
    start_with(config, shutdown, router::Auth::On).await
}

/// A server that answers everyone, for the benchmark that measures what authentication costs
/// (built only with the `unguarded` feature, never into a release).
#[cfg(feature = "unguarded")]
pub async fn start_unguarded(
    config: Config,
    shutdown: CancellationToken,
) -> anyhow::Result<Pharos> {
    start_with(config, shutdown, router::Auth::Off).await
}

async fn start_with(
    config: Config,
    shutdown: CancellationToken,
    auth: router::Auth,
) -> anyhow::Result<Pharos> {
    // a bad prefix stops the start before anything is touched
    config.base_path()?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let lock = cluster::lock_data_dir(&config.data_dir)?;
    let database = config.database_kind()?;
    let db = Db::connect(config.database_url()?.expose(), database).await?;
    let bus = Bus::new();
    let workers = Workers::new(shutdown);
    let metrics = Arc::new(metrics::Metrics::new());
    let ctx = ValidationContext {
        installation: config.installation,
        database,
    };
    let identity = Identity::load(&config)?;
    let settings = Arc::new(
        Settings::load(db.clone(), bus.clone(), ctx)
            .await
            .context("reading the stored settings")?,
    );
    // Servers exchange their changes in distributed mode and on a High Availability
    // installation; otherwise each hears only of its own, though they share the database.
    let shared = database == DatabaseKind::Postgres
        && (ctx.installation == Installation::Ha || settings.distributed_running);
    bus.join(&identity.id, shared);
    let registry = Arc::new(
        Registry::register(
            db.clone(),
            bus.clone(),
            identity,
            config.heartbeat_timeout(),
        )
        .await
        .context("registering this server")?,
    );
    tracing::info!(
        server = %registry.identity().id,
        installation = ?ctx.installation,
        database = ?ctx.database,
        distributed = settings.distributed_running,
        shared,
        "server registered"
    );

    workers.every("heartbeat", config.heartbeat_interval(), {
        let registry = registry.clone();
        move || {
            let registry = registry.clone();
            async move { Ok(registry.heartbeat().await?) }
        }
    });
    if let Backend::Sqlite(_) = &db.pool {
        // the command line may change the settings beside this server
        settings.follow(&workers, Some(config.settings_poll()));
    }
    if let Backend::Postgres(pool) = &db.pool {
        debug_assert_eq!(database, DatabaseKind::Postgres);
        bus.listen(
            &workers,
            pool.clone(),
            config.heartbeat_timeout(),
            metrics.bus_lag.clone(),
        );
        settings.follow(&workers, shared.then(|| config.settings_poll()));
        registry.follow(&workers);
    }
    let discovery = discovery::Discovery::start(
        db.clone(),
        bus.clone(),
        settings.clone(),
        &config,
        registry.clone(),
        &workers,
        metrics.clone(),
    )
    .await
    .context("starting discovery")?;
    let accounts =
        accounts::Accounts::start(db.clone(), bus.clone(), &config, &workers, metrics.clone())
            .await
            .context("starting accounts")?;
    let tls = tls::Tls::start(
        db.clone(),
        bus.clone(),
        &config,
        registry.clone(),
        settings.clone(),
        &workers,
        // the command line may change them beside this server; on PostgreSQL it says so
        matches!(db.pool, Backend::Sqlite(_)).then(|| config.settings_poll()),
    )
    .await
    .context("starting certificates")?;
    let est = est::Est::new(db.clone(), bus.clone(), tls.clone(), &workers);
    let status = Status {
        registry,
        settings,
        online: discovery.online.clone(),
    };
    let (router, routes) = router::router(
        router::Parts {
            status: &status,
            discovery: &discovery,
            accounts: &accounts,
            tls: &tls,
            est: &est,
            db: &db,
            bus: &bus,
            workers: &workers,
            config: &config,
            metrics: &metrics,
        },
        auth,
    );
    Ok(Pharos {
        router,
        status,
        db,
        bus,
        discovery,
        accounts,
        tls,
        est,
        routes,
        metrics,
        workers,
        shutdown_timeout: config.shutdown_timeout(),
        _lock: lock,
    })
}

impl Pharos {
    /// Stops the workers, tells the other servers this one left, and closes the database.
    pub async fn stop(self) {
        self.workers.stop().await;
        if let Err(e) = self.status.registry.stopped().await {
            tracing::warn!(error = %e, "could not record that this server stopped");
        }
        self.db.close().await;
    }
}

/// Serves until the shutdown token fires (HTTPS unless TLS is off), gives running requests the
/// configured time to finish, then stops the workers. Past the time limit, what still runs is cut
/// off.
pub async fn serve(pharos: Pharos, listener: TcpListener) -> anyhow::Result<()> {
    let token = pharos.workers.shutdown().clone();
    let limit = pharos.shutdown_timeout;
    let deadline = std::sync::Arc::new(std::sync::OnceLock::new());
    let handle = axum_server::Handle::new();
    tokio::spawn({
        let (token, handle, deadline) = (token.clone(), handle.clone(), deadline.clone());
        async move {
            token.cancelled().await;
            // requests still running share one deadline with stopping the workers and closing
            // the database (which waits for connections a request still holds)
            let _ = deadline.set(tokio::time::Instant::now() + limit);
            handle.graceful_shutdown(Some(limit));
        }
    });
    let listener = listener.into_std().context("taking over the listener")?;
    let app = pharos
        .router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    let served = if pharos.tls.enabled {
        let config =
            axum_server::tls_rustls::RustlsConfig::from_config(pharos.tls.server_config()?);
        let app = pharos
            .router
            .clone()
            .layer(axum::Extension(http::auth::Tls))
            .into_make_service_with_connect_info::<SocketAddr>();
        axum_server::from_tcp_rustls(listener, config)
            .context("serving HTTPS")?
            .handle(handle)
            .serve(app)
            .await
    } else {
        axum_server::from_tcp(listener)
            .context("serving HTTP")?
            .handle(handle)
            .serve(app)
            .await
    };
    served.context("serving")?;
    let deadline = deadline
        .get()
        .copied()
        .unwrap_or_else(|| tokio::time::Instant::now() + limit);
    if tokio::time::Instant::now() >= deadline {
        tracing::warn!(
            ?limit,
            "requests still running at the shutdown time limit were cut off"
        );
    }
    if tokio::time::timeout_at(deadline, pharos.stop())
        .await
        .is_err()
    {
        tracing::warn!(?limit, "stopping took longer than the shutdown time limit");
    }
    Ok(())
}
