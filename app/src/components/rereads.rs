//! Reading again what a page shows when the server announces a change.

use super::Notice;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Re-reads of what a page shows, which may overlap when events come quickly: only the answer
/// of the last one started is shown.
#[derive(Clone, Copy)]
pub struct Rereads(StoredValue<(u64, bool)>);

impl Default for Rereads {
    fn default() -> Self {
        Rereads(StoredValue::new((0, false)))
    }
}

impl Rereads {
    /// Reads again: `show` gets the answer if it is the last read started and the page is still
    /// there; a failure shows in `notice` ("The {what} could not be brought up to date: …").
    pub fn reread<T: 'static>(
        self,
        read: impl Future<Output = Result<T, String>> + 'static,
        what: &'static str,
        notice: RwSignal<Option<Notice>>,
        show: impl FnOnce(T) + 'static,
    ) {
        let Some(this) = self.start() else {
            return;
        };
        spawn_local(async move {
            let answer = read.await;
            if !self.finish(this) {
                return; // a newer read is under way, or the page is gone
            }
            match answer {
                Ok(value) => show(value),
                Err(e) => {
                    notice.try_set(Some(Notice::Error(format!(
                        "The {what} could not be brought up to date: {e}"
                    ))));
                }
            }
        });
    }

    /// Whether a re-read is under way (its answer may predate what the page knows now).
    pub fn pending(&self) -> bool {
        self.0.try_with_value(|(_, pending)| *pending) == Some(true)
    }

    /// Starts a re-read; `None` once the page is gone.
    fn start(&self) -> Option<u64> {
        self.0.try_update_value(|(started, pending)| {
            *started += 1;
            *pending = true;
            *started
        })
    }

    /// Ends re-read `this`: whether its answer is to be shown.
    fn finish(&self, this: u64) -> bool {
        self.0.try_update_value(|(started, pending)| {
            let latest = *started == this;
            if latest {
                *pending = false;
            }
            latest
        }) == Some(true)
    }
}
