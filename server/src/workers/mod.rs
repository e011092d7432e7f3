//! How background work runs: each worker is a task in the server's [`TaskTracker`], instrumented
//! with its own span, that ends when the shared [`CancellationToken`] fires.

use std::future::Future;
use std::time::Duration;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;

/// The tasks of one server and the token that stops them.
#[derive(Clone, Debug)]
pub struct Workers {
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Workers {
    pub fn new(shutdown: CancellationToken) -> Workers {
        Workers {
            tracker: TaskTracker::new(),
            shutdown,
        }
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Runs `work` until it ends or the server stops.
    pub fn spawn<F>(&self, name: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.shutdown.clone();
        self.tracker.spawn(
            async move {
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = work => {}
                }
            }
            .instrument(tracing::info_span!("worker", name)),
        );
    }

    /// Runs `step` every `interval` (the first time at once); a failed step is logged and the
    /// next one runs on time.
    pub fn every<F, Fut>(&self, name: &'static str, interval: Duration, step: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send,
    {
        self.spawn(name, async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(e) = step().await {
                    tracing::warn!(error = format!("{e:#}"), "worker step failed");
                }
            }
        });
    }

    /// Runs blocking `work` on a thread of its own; stopping the server waits for it (it must
    /// watch [`Workers::shutdown`] to end soon).
    pub fn spawn_blocking<F, T>(&self, work: F) -> tokio::task::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.tracker.spawn_blocking(work)
    }

    /// Stops every worker and waits for them.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// A ticker every `every` (late ticks delayed, not bunched), or none.
pub fn poll_ticker(every: Option<std::time::Duration>) -> Option<tokio::time::Interval> {
    every.map(|every| {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker
    })
}

/// The next tick of `ticker`; never, without one (a `select!` branch that stays quiet).
pub async fn next_tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// This server's wall clock in Unix milliseconds (the database's clock, which servers sharing it
/// agree on, is `Db::now_millis`).
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
