//! All routes of the server, each area's under its own state and rights rule, inside the shared
//! layers: who is calling ([`http::auth::identify`]), security headers, timeouts; all of it below
//! the configured path prefix, if there is one.

use crate::accounts::{self, Accounts};
use crate::cluster::{Bus, events};
use crate::config::Config;
use crate::db::Db;
use crate::discovery::Discovery;
use crate::http::openapi::{self, Publication};
use crate::http::{RouteRule, Routes, Rule, auth};
use crate::status::Status;
use crate::workers::Workers;
use crate::{audit, dashboard, discovery, http, settings, site, status};
use axum::{Router, middleware};
use std::sync::Arc;
use tower::ServiceExt;
use utoipa::OpenApi;

/// What the HTTP side serves with.
pub struct Parts<'a> {
    pub status: &'a Status,
    pub discovery: &'a Arc<Discovery>,
    pub accounts: &'a Arc<Accounts>,
    pub tls: &'a Arc<crate::tls::Tls>,
    pub est: &'a Arc<crate::est::Est>,
    pub db: &'a Db,
    pub bus: &'a Bus,
    pub workers: &'a Workers,
    pub config: &'a Config,
    pub metrics: &'a Arc<crate::metrics::Metrics>,
}

/// Whether requests are authenticated and checked: always, but for the benchmark that measures
/// what that costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    On,
    #[cfg(feature = "unguarded")]
    Off,
}

/// The router, and the table of every API route's rights rule.
pub fn router(parts: Parts<'_>, auth: Auth) -> (Router, Arc<Vec<RouteRule>>) {
    let publication = Publication::default();
    let overview = Arc::new(dashboard::Overview {
        db: parts.db.clone(),
        online: parts.status.online.clone(),
        registry: parts.status.registry.clone(),
        tls: parts.tls.clone(),
    });
    let routes = Routes::new(Rule::Public)
        .get("/healthz", || async { "ok" })
        .merge(openapi::routes(publication.clone()))
        .merge(settings::api::routes().with_state(parts.status.settings.clone()))
        .merge(audit::api::routes().with_state(parts.db.clone()))
        .merge(crate::backup::routes().with_state(Arc::new(parts.config.clone())))
        .merge(status::routes().with_state(parts.status.clone()))
        .merge(discovery::api::routes().with_state(parts.discovery.clone()))
        .merge(accounts::api::routes().with_state(parts.accounts.clone()))
        .merge(crate::tls::api::routes().with_state(parts.tls.clone()))
        .merge(crate::est::api::routes().with_state(parts.est.clone()))
        .merge(
            crate::metrics::routes().with_state(Arc::new(crate::metrics::Parts {
                metrics: parts.metrics.clone(),
                db: parts.db.clone(),
                servers: parts.status.registry.clone(),
                discovery: parts.discovery.clone(),
                tls: parts.tls.clone(),
                allow: parts.config.metrics_allow.clone(),
                trusted_proxies: parts.config.trusted_proxies.clone(),
            })),
        )
        .merge(dashboard::routes().with_state(overview.clone()))
        .merge(events::routes().with_state(events::EventsState {
            bus: parts.bus.clone(),
            accounts: parts.accounts.clone(),
            shutdown: parts.workers.shutdown().clone(),
        }));
    // validated at start
    let base = parts.config.base_path().unwrap_or_default();
    let (api, table) = match auth {
        Auth::On => routes.guarded(&base),
        #[cfg(feature = "unguarded")]
        Auth::Off => routes.unguarded(),
    };
    openapi::publish(&publication, document(), &table, &base);
    let backends = site::Backends {
        page: Arc::new(parts.status.clone()),
        discovery: Arc::new(discovery::Pages(parts.discovery.clone())),
        accounts: Arc::new(accounts::Pages(parts.accounts.clone())),
        certificates: Arc::new(crate::tls::page::Pages(parts.tls.clone())),
        enrollment: Arc::new(crate::est::page::Pages(parts.est.clone())),
        dashboard: Arc::new(dashboard::Pages(overview)),
    };
    let pages = site::routes(backends, site::leptos_options(parts.config), &base);
    let identify = auth::Identify {
        accounts: parts.accounts.clone(),
        trusted_proxies: Arc::new(parts.config.trusted_proxies.clone()),
    };
    let timeout = parts.config.request_timeout();
    let router = match auth {
        Auth::On => http::layers::around(
            api.merge(pages.layer(middleware::from_fn_with_state(
                Arc::<str>::from(base.as_str()),
                auth::pages,
            ))),
            Some(identify),
            timeout,
        ),
        #[cfg(feature = "unguarded")]
        Auth::Off => http::layers::around(api.merge(pages), None, timeout),
    };
    let router = router.layer(middleware::from_fn_with_state(
        parts.metrics.clone(),
        crate::metrics::measure,
    ));
    let router = crate::est::prefix::alias(
        below(&base, router),
        parts.status.settings.clone(),
        base.clone(),
    );
    (router, table)
}

/// The areas' documents of their routes, in one.
fn document() -> utoipa::openapi::OpenApi {
    let mut doc = openapi::Api::openapi();
    for part in [
        settings::api::Api::openapi(),
        audit::api::Api::openapi(),
        crate::backup::Api::openapi(),
        status::Api::openapi(),
        discovery::api::Api::openapi(),
        accounts::api::Api::openapi(),
        crate::tls::api::Api::openapi(),
        crate::est::api::Api::openapi(),
        events::Api::openapi(),
        dashboard::Api::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

/// The router below the path prefix a reverse proxy forwards with every request. Inside, routes,
/// layers and handlers see paths without it (`OriginalUri` keeps the full one).
fn below(base: &str, router: Router) -> Router {
    if base.is_empty() {
        return router;
    }
    let nested = Router::new().nest(base, router);
    // `/prefix/` (what a proxy's `location /prefix/` is opened with, and where it sends
    // `/prefix`) is the start page too, though a nested router takes only `/prefix` for it
    let start = nested.clone();
    let base = base.to_owned();
    nested.route_service(
        &format!("{base}/"),
        tower::service_fn(move |mut request: axum::extract::Request| {
            let mut uri = base.clone();
            if let Some(query) = request.uri().query() {
                uri = format!("{uri}?{query}");
            }
            if let Ok(uri) = uri.parse() {
                *request.uri_mut() = uri;
            }
            start.clone().oneshot(request)
        }),
    )
}
