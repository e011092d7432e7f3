//! All routes of the server, each area's under its own state and rights rule, inside the shared
//! layers: who is calling ([`http::auth::identify`]), security headers, timeouts.

use crate::accounts::{self, Accounts};
use crate::cluster::{Bus, events};
use crate::config::Config;
use crate::db::Db;
use crate::discovery::Discovery;
use crate::http::{RouteRule, Routes, Rule, auth};
use crate::status::Status;
use crate::workers::Workers;
use crate::{audit, discovery, http, settings, site, status};
use axum::{Router, middleware};
use std::sync::Arc;

/// What the HTTP side serves with.
pub struct Parts<'a> {
    pub status: &'a Status,
    pub discovery: &'a Arc<Discovery>,
    pub accounts: &'a Arc<Accounts>,
    pub db: &'a Db,
    pub bus: &'a Bus,
    pub workers: &'a Workers,
    pub config: &'a Config,
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
    let routes = Routes::new(Rule::Public)
        .get("/healthz", || async { "ok" })
        .merge(settings::api::routes().with_state(parts.status.settings.clone()))
        .merge(audit::api::routes().with_state(parts.db.clone()))
        .merge(status::routes().with_state(parts.status.clone()))
        .merge(discovery::api::routes().with_state(parts.discovery.clone()))
        .merge(accounts::api::routes().with_state(parts.accounts.clone()))
        .merge(events::routes().with_state(events::EventsState {
            bus: parts.bus.clone(),
            shutdown: parts.workers.shutdown().clone(),
        }));
    let (api, table) = match auth {
        Auth::On => routes.guarded(),
        #[cfg(feature = "unguarded")]
        Auth::Off => routes.unguarded(),
    };
    let pages = site::routes(
        Arc::new(parts.status.clone()),
        Arc::new(discovery::Pages(parts.discovery.clone())),
        Arc::new(accounts::Pages(parts.accounts.clone())),
        site::leptos_options(parts.config),
    );
    let identify = auth::Identify {
        accounts: parts.accounts.clone(),
        trusted_proxies: Arc::new(parts.config.trusted_proxies.clone()),
    };
    let timeout = parts.config.request_timeout();
    let router = match auth {
        Auth::On => http::layers::around(
            api.merge(pages.layer(middleware::from_fn(auth::pages))),
            Some(identify),
            timeout,
        ),
        #[cfg(feature = "unguarded")]
        Auth::Off => http::layers::around(api.merge(pages), None, timeout),
    };
    (router, table)
}
