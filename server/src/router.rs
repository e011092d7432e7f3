//! All routes of the server, each area's under its own state, inside the shared layers.

use crate::cluster::{Bus, events};
use crate::config::Config;
use crate::db::Db;
use crate::status::Status;
use crate::workers::Workers;
use crate::{audit, http, settings, site, status};
use axum::{Router, routing::get};
use std::sync::Arc;

pub fn router(status: &Status, db: &Db, bus: &Bus, workers: &Workers, config: &Config) -> Router {
    let api = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(settings::api::routes().with_state(status.settings.clone()))
        .merge(audit::api::routes().with_state(db.clone()))
        .merge(status::routes().with_state(status.clone()))
        .merge(events::routes().with_state(events::EventsState {
            bus: bus.clone(),
            shutdown: workers.shutdown().clone(),
        }));
    let pages = site::routes(Arc::new(status.clone()), site::leptos_options(config));
    http::layers::around(api.merge(pages))
}
