//! What this server is and how it runs: `GET /api/v1/server` and the data the settings page is
//! rendered with. Both combine the server registry with the settings.

use crate::cluster::Registry;
use crate::discovery::OnlineCheck;
use crate::http::{Routes, Rule};
use crate::settings::Settings;
use app::api::{DistributedStatus, PageData, SERVER_URL, ServerStatus};
use app::model::Area;
use app::model::Installation;
use axum::{Json, extract::State};
use std::sync::Arc;

#[derive(Clone)]
pub struct Status {
    pub registry: Arc<Registry>,
    pub settings: Arc<Settings>,
    pub online: Arc<OnlineCheck>,
}

impl Status {
    pub fn status(&self) -> ServerStatus {
        let (server, servers) = self.registry.servers();
        let ctx = self.settings.ctx;
        let configured = self
            .settings
            .snapshot()
            .stored
            .settings
            .distributed_enabled();
        let running = self.settings.distributed_running;
        ServerStatus {
            server,
            device_address: self.registry.identity().device_address.clone(),
            installation: ctx.installation,
            database: ctx.database,
            servers,
            distributed: (ctx.installation == Installation::Standalone).then_some(
                DistributedStatus {
                    configured,
                    running,
                    restart_required: configured != running,
                },
            ),
            online_check: self.online.last_round(),
        }
    }
}

impl app::PageBackend for Status {
    fn page_data(&self) -> PageData {
        let snapshot = self.settings.snapshot();
        PageData {
            settings: snapshot.view.clone(),
            etag: snapshot.etag(),
            status: self.status(),
        }
    }
}

/// The servers and how this one runs: part of the network settings area.
pub fn routes() -> Routes<Status> {
    Routes::new(Rule::Area(Area::NetworkSettings)).get(SERVER_URL, server_status)
}

/// This server, every server known in the database and how this one runs.
#[utoipa::path(get, path = SERVER_URL,
    responses((status = 200, description = "The servers", body = app::api::ServerStatus)))]
async fn server_status(State(status): State<Status>) -> Json<app::api::ServerStatus> {
    Json(status.status())
}

/// The document of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(server_status))]
pub struct Api;
