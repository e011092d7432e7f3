//! All routes of the server, each area's under its own state, inside the shared layers.

use crate::cluster::{Bus, events};
use crate::config::Config;
use crate::db::Db;
use crate::discovery::Discovery;
use crate::status::Status;
use crate::workers::Workers;
use crate::{audit, discovery, http, settings, site, status};
use axum::{Router, routing::get};
use std::sync::Arc;

pub fn router(
    status: &Status,
    discovery: &Arc<Discovery>,
    db: &Db,
    bus: &Bus,
    workers: &Workers,
    config: &Config,
) -> Router {
    let api = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(settings::api::routes().with_state(status.settings.clone()))
        .merge(audit::api::routes().with_state(db.clone()))
        .merge(status::routes().with_state(status.clone()))
        .merge(discovery::api::routes().with_state(discovery.clone()))
        .merge(events::routes().with_state(events::EventsState {
            bus: bus.clone(),
            shutdown: workers.shutdown().clone(),
        }));
    let pages = site::routes(
        Arc::new(status.clone()),
        Arc::new(discovery::Pages(discovery.clone())),
        site::leptos_options(config),
    );
    http::layers::around(api.merge(pages))
}
