//! `GET /api/v1/events`: the bus's events as server-sent events, for the pages.

use super::Bus;
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
use tokio_stream::wrappers::BroadcastStream;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct EventsState {
    pub bus: Bus,
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
        LiveEvent::Resync => None,
    }
}

fn sse_event(event: &LiveEvent) -> Result<Event, Infallible> {
    Ok(Event::default()
        .json_data(event)
        .expect("events always serialize"))
}

async fn events(
    State(state): State<EventsState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let rights = caller.me().map(|me| me.rights.clone()).unwrap_or_default();
    let may_read = move |event: &LiveEvent| area(event).is_none_or(|a| rights.can_read(a));
    // Subscribe before anything else so nothing committed from now on is missed; the first
    // event tells the page to compare what it shows with the current state, which covers what
    // happened before it connected (or while it was reconnecting).
    let changes = BroadcastStream::new(state.bus.subscribe()).filter_map(move |item| {
        let event = match item {
            Ok(event) if may_read(&event) => Some(sse_event(&event)),
            Ok(_) => None,
            // this stream fell behind and lost events: the page re-reads instead
            Err(_lagged) => Some(sse_event(&LiveEvent::Resync)),
        };
        std::future::ready(event)
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
