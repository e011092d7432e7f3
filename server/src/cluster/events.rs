//! `GET /api/v1/events`: the bus's events as server-sent events, for the pages.

use super::Bus;
use crate::http::auth::{Authenticate, Via};
use crate::http::{Caller, Routes, Rule};
use app::api::{EVENTS_URL, LiveEvent};
use app::model::Area;
use axum::{
    Extension,
    extract::State,
    http::{HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::{StreamExt, stream};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct EventsState {
    pub bus: Bus,
    /// Asked again whenever accounts change: rights may have changed, or the session ended.
    pub accounts: Arc<dyn Authenticate>,
    /// Open streams end when the server stops, instead of holding it.
    pub shutdown: CancellationToken,
}

/// Any signed-in administrator; each sees only the events of the areas they may read.
pub fn routes() -> Routes<EventsState> {
    Routes::new(Rule::SignedIn).get(EVENTS_URL, events)
}

/// The area an event tells about; `None` for what every page needs.
fn area(event: &LiveEvent) -> Option<Area> {
    match event {
        LiveEvent::SettingsChanged { .. }
        | LiveEvent::ServerJoined { .. }
        | LiveEvent::ServerLeft { .. } => Some(Area::NetworkSettings),
        LiveEvent::DevicesChanged | LiveEvent::DeviceStatus { .. } => Some(Area::Devices),
        LiveEvent::JobsChanged => Some(Area::Jobs),
        LiveEvent::AccountsChanged => Some(Area::Accounts),
        LiveEvent::EnrollmentChanged => Some(Area::Certificates),
        // the cluster check shows on the settings page too
        LiveEvent::Resync | LiveEvent::CertificatesChanged => None,
    }
}

fn sse_event(event: &LiveEvent) -> Result<Event, Infallible> {
    Ok(Event::default()
        .json_data(event)
        .expect("events always serialize"))
}

/// One stream's state: what it receives, and whose rights filter it.
struct Follow {
    events: broadcast::Receiver<LiveEvent>,
    rights: app::model::Rights,
    via: Via,
    accounts: Arc<dyn Authenticate>,
}

/// Server-sent events: JSON data tagged by `type`, each administrator receiving only the events
/// of the areas they may read; `resync` first, and whenever the stream fell behind.
#[utoipa::path(
    get,
    path = EVENTS_URL,
    tag = "Events",
    responses((status = 200, description = "An endless stream of events", content_type = "text/event-stream", body = LiveEvent)),
)]
async fn events(
    State(state): State<EventsState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let Some(signed_in) = caller.signed_in.clone() else {
        return crate::http::ApiError::Unauthorized.into_response();
    };
    // Subscribe before anything else so nothing committed from now on is missed; the first
    // event tells the page to compare what it shows with the current state, which covers what
    // happened before it connected (or while it was reconnecting).
    let follow = Follow {
        events: state.bus.subscribe(),
        rights: signed_in.me.rights.clone(),
        via: signed_in.via.clone(),
        accounts: state.accounts.clone(),
    };
    let changes = stream::unfold(follow, |mut follow| async move {
        loop {
            let event = match follow.events.recv().await {
                Ok(event) => event,
                // this stream fell behind and lost events: the page re-reads instead
                Err(broadcast::error::RecvError::Lagged(_)) => LiveEvent::Resync,
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            if event == LiveEvent::AccountsChanged {
                // the rights may have changed, or the session ended (the stream ends with it)
                // (the database unreachable: the stream ends, and the page connects again)
                follow.rights = follow
                    .accounts
                    .again(&follow.via)
                    .await
                    .ok()
                    .flatten()?
                    .me
                    .rights
                    .clone();
            }
            if area(&event).is_none_or(|a| follow.rights.can_read(a)) {
                return Some((sse_event(&event), follow));
            }
        }
    });
    let stream = stream::once(async { sse_event(&LiveEvent::Resync) })
        .chain(changes)
        .take_until(state.shutdown.cancelled_owned());
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response();
    // a buffering reverse proxy (nginx) would hold events back
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The document of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(events))]
pub struct Api;
