//! The server's live events (`GET /api/v1/events`, server-sent events). The browser's
//! `EventSource` reconnects by itself after a lost connection; the server then starts the stream
//! with `resync`, so nothing missed meanwhile goes unnoticed.

use crate::api::{EVENTS_URL, LiveEvent, ME_URL};
use futures_util::StreamExt;
use futures_util::future::{AbortHandle, abortable};
use gloo_net::eventsource::futures::EventSource;

/// Calls `handle` with every event until the returned handle is aborted (when the page that
/// follows them goes away).
pub fn follow_events(handle: impl Fn(LiveEvent) + 'static) -> Option<AbortHandle> {
    let mut source = match EventSource::new(&crate::url(EVENTS_URL)) {
        Ok(source) => source,
        Err(e) => {
            leptos::logging::warn!("live updates are off: {e}");
            return None;
        }
    };
    let mut messages = source.subscribe("message").ok()?;
    let (work, stop) = abortable(async move {
        // the source must live as long as its stream
        let _source = &source;
        while let Some(next) = messages.next().await {
            // A lost connection is an error event; the browser reconnects by itself unless
            // the source gave up (closed).
            let Ok((_, message)) = next else {
                if _source.state() == gloo_net::eventsource::State::Closed {
                    leptos::logging::warn!("live updates stopped: the event stream closed");
                    // The stream closes for good when the session ended (401); asking who is
                    // signed in then opens the sign-in page.
                    let _ = super::get_ok(ME_URL).await;
                    break;
                }
                continue;
            };
            let Some(text) = message.data().as_string() else {
                continue;
            };
            match serde_json::from_str::<LiveEvent>(&text) {
                Ok(event) => handle(event),
                Err(e) => leptos::logging::warn!("an event this page does not know: {e}"),
            }
        }
    });
    leptos::task::spawn_local(async move {
        let _ = work.await;
    });
    Some(stop)
}
