//! `GET /api/v1/events`: the bus's events as server-sent events, for the pages.

use super::Bus;
use app::api::{EVENTS_URL, LiveEvent};
use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::get,
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

pub fn routes() -> Router<EventsState> {
    Router::new().route(EVENTS_URL, get(events))
}

fn sse_event(event: &LiveEvent) -> Result<Event, Infallible> {
    Ok(Event::default()
        .json_data(event)
        .expect("events always serialize"))
}

async fn events(State(state): State<EventsState>) -> Response {
    // Subscribe before anything else so nothing committed from now on is missed; the first
    // event tells the page to compare what it shows with the current state, which covers what
    // happened before it connected (or while it was reconnecting).
    let changes = BroadcastStream::new(state.bus.subscribe()).map(|item| match item {
        Ok(event) => sse_event(&event),
        // this stream fell behind and lost events: the page re-reads instead
        Err(_lagged) => sse_event(&LiveEvent::Resync),
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
