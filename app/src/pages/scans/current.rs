//! The shown scan: its progress, the devices found so far, and registering them.

use super::{Scans, remaining_text, state_text, target_text};
use crate::api::{Scan, ScanResult, ScanState};
use crate::components::{ColumnHeads, NoticeArea};
use crate::pages::{show_optional_time, show_time};
use leptos::prelude::*;

#[component]
pub(super) fn CurrentScan(scans: Scans) -> impl IntoView {
    // the parts follow the scan's values; they are built anew only for another scan
    let shown_id = Memo::new(move |_| scans.shown.with(|s| s.as_ref().map(|s| s.id.clone())));
    view! {
        <section aria-labelledby="current-title" class="current-scan">
            <h2 id="current-title">
                {move || {
                    scans
                        .shown
                        .with(|s| match s {
                            Some(scan) => format!("Scan: {}", target_text(scan)),
                            None => "No scan shown".to_owned(),
                        })
                }}
            </h2>
            {move || match shown_id.get() {
                Some(_) => view! { <Progress scans /> }.into_any(),
                None => {
                    view! {
                        <p class="help">
                            "Start a scan above, or open an earlier one from the list below."
                        </p>
                    }
                        .into_any()
                }
            }}
            <Found scans />
            <NoticeArea notice=scans.notice />
        </section>
    }
    .into_any()
}

/// How far the scan got, in words: what a screen reader announces as it changes, and what it
/// does not (the datagrams sent and the time left change at every poll).
fn progress_text(scan: &Scan) -> (String, Option<String>) {
    let replies = format!(
        "{} device{} found",
        scan.found,
        if scan.found == 1 { "" } else { "s" }
    );
    let asked = format!("{} of {} datagrams sent", scan.sent, scan.total);
    let (text, unannounced) = match scan.state {
        ScanState::Running => {
            let left = scan.remaining_ms.map(remaining_text);
            let detail = [Some(asked), left].into_iter().flatten();
            (replies, Some(detail.collect::<Vec<_>>().join(" · ")))
        }
        ScanState::Failed => {
            return (
                format!(
                    "Failed: {} · {replies}",
                    scan.error.as_deref().unwrap_or("no reason given")
                ),
                None,
            );
        }
        ScanState::Done | ScanState::Cancelled => (
            format!(
                "{} {} · {asked} · {replies}",
                if scan.state == ScanState::Done {
                    "Finished"
                } else {
                    "Cancelled"
                },
                show_optional_time(scan.finished_at.as_deref())
            ),
            None,
        ),
    };
    match &scan.error {
        Some(trouble) => (format!("{text} · {trouble}"), unannounced),
        None => (text, unannounced),
    }
}

#[component]
fn Progress(scans: Scans) -> impl IntoView {
    let read = move |f: fn(&Scan) -> u64| move || scans.shown.with(|s| s.as_ref().map_or(0, f));
    let state = Memo::new(move |_| {
        scans
            .shown
            .with(|s| s.as_ref().map_or(ScanState::Done, |s| s.state))
    });
    let cancelling = RwSignal::new(false);
    let cancel = move |_| {
        let Some(id) = scans
            .shown
            .with_untracked(|s| s.as_ref().map(|s| s.id.clone()))
        else {
            return;
        };
        cancelling.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            super::watch::cancel(scans, id).await;
            cancelling.try_set(false);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
    };
    let text = Memo::new(move |_| scans.shown.with(|s| s.as_ref().map(progress_text)));
    view! {
        <p class="scan-state">
            <span class=move || {
                format!("badge {}", state_text(state.get()))
            }>{move || state_text(state.get())}</span>
            " Started "
            {move || {
                scans.shown.with(|s| s.as_ref().map(|s| show_time(&s.started_at)))
            }}
            // only that server sends and listens for it
            {move || {
                scans
                    .shown
                    .with(|s| {
                        s.as_ref()
                            .filter(|s| !s.server_name.is_empty())
                            .map(|s| format!(" on server {}", s.server_name))
                    })
            }}
        </p>
        <div class="progress-row">
            <progress
                id="scan-progress"
                max=read(|s| s.total.max(1))
                value=read(|s| s.sent)
                aria-label="Datagrams sent"
            ></progress>
            {move || {
                (state.get() == ScanState::Running)
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                on:click=cancel
                                disabled=move || scans.read_only || cancelling.get()
                            >
                                "Cancel scan"
                            </button>
                        }
                    })
            }}
        </div>
        <p class="progress-text">
            <span role="status" aria-live="polite">
                {move || text.with(|t| t.as_ref().map(|(said, _)| said.clone()))}
            </span>
            {move || {
                text.with(|t| {
                    t.as_ref()
                        .and_then(|(_, detail)| detail.clone())
                        .map(|detail| view! { <span class="countdown">{format!(" · {detail}")}</span> })
                })
            }}
        </p>
    }
    .into_any()
}

/// The devices found so far, to select and register.
#[component]
fn Found(scans: Scans) -> impl IntoView {
    let results = Memo::new(move |_| {
        scans
            .shown
            .with(|s| s.as_ref().map(|s| s.results.clone()).unwrap_or_default())
    });
    let selectable = move || {
        results.with(|r| {
            r.iter()
                .filter(|r| !r.registered)
                .map(|r| r.mac.clone())
                .collect::<Vec<_>>()
        })
    };
    let registering = RwSignal::new(false);
    let select_all = move |_| {
        scans
            .selected
            .set(untrack(selectable).into_iter().collect())
    };
    let register = move |_| {
        let macs: Vec<String> = scans.selected.get_untracked().into_iter().collect();
        if macs.is_empty() {
            return;
        }
        registering.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(register_selected(scans, macs, registering));
    };
    let count = move || scans.selected.with(|s| s.len());
    let any = Memo::new(move |_| !results.with(Vec::is_empty));
    move || {
        any.get().then(|| {
            view! {
                <table class="found">
                    <caption>"Devices that answered"</caption>
                    <ColumnHeads
                        first="Select"
                        names=&[
                            "IP address",
                            "MAC address",
                            "Host name",
                            "OS",
                            "Serial number",
                            "Registered",
                        ]
                    />
                    <tbody>
                        // rows stay as they are while more devices are found
                        <For
                            each=move || results.get()
                            key=|r| (r.mac.clone(), r.registered)
                            children=move |result| found_row(scans, result)
                        />
                    </tbody>
                </table>
                <div class="actions">
                    <button
                        type="button"
                        on:click=select_all
                        disabled=move || scans.read_only || selectable().is_empty()
                    >
                        "Select all new"
                    </button>
                    <button
                        type="button"
                        class="primary"
                        on:click=register
                        disabled=move || scans.read_only || count() == 0 || registering.get()
                    >
                        {move || format!("Register selected ({})", count())}
                    </button>
                </div>
            }
            .into_any()
        })
    }
}

fn found_row(scans: Scans, result: ScanResult) -> impl IntoView {
    let mac = result.mac.clone();
    let selected = {
        let mac = mac.clone();
        move || scans.selected.with(|s| s.contains(&mac))
    };
    let toggle = {
        let mac = mac.clone();
        move |ev| {
            let on = event_target_checked(&ev);
            scans.selected.update(|s| {
                if on {
                    s.insert(mac.clone());
                } else {
                    s.remove(&mac);
                }
            });
        }
    };
    let dash = |text: String| {
        if text.is_empty() {
            "—".to_owned()
        } else {
            text
        }
    };
    view! {
        <tr class:registered=result.registered>
            <td>
                <input
                    type="checkbox"
                    aria-label=format!("Select {}", result.ip)
                    disabled=scans.read_only || result.registered
                    prop:checked=selected
                    on:change=toggle
                />
            </td>
            <td>
                <code>{result.ip}</code>
            </td>
            <td>
                <code>{mac}</code>
            </td>
            <td>{dash(result.hostname)}</td>
            <td>{dash(result.os)}</td>
            <td>{dash(result.serial)}</td>
            <td>
                {result
                    .registered
                    .then(|| view! { <span class="badge registered">"registered"</span> })}
            </td>
        </tr>
    }
}

#[cfg(feature = "hydrate")]
async fn register_selected(scans: Scans, macs: Vec<String>, registering: RwSignal<bool>) {
    use crate::components::Notice;
    let Some(id) = scans
        .shown
        .with_untracked(|s| s.as_ref().map(|s| s.id.clone()))
    else {
        registering.try_set(false);
        return;
    };
    let notice = match crate::client::discovery::register_found(&id, macs).await {
        Ok(done) => {
            let n = done.registered.len();
            let mut text = format!("Registered {n} device{}.", if n == 1 { "" } else { "s" });
            if !done.already.is_empty() {
                text.push_str(&format!(" {} were registered already.", done.already.len()));
            }
            scans.selected.try_set(Default::default());
            Notice::Success(text)
        }
        Err(refusal) => Notice::Error(format!("Nothing was registered: {}", refusal.text())),
    };
    // the page may be gone by now
    scans.notice.try_set(Some(notice));
    registering.try_set(false);
    // shows which are registered now
    scans.open(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(state: ScanState) -> Scan {
        // from its JSON, which outlives a new field of the type
        let mut scan: Scan = serde_json::from_value(serde_json::json!({
            "id": "s1",
            "state": "done",
            "broadcast": false,
            "ranges": ["127.88.0.1-127.88.0.40"],
            "sent": 12,
            "total": 40,
            "started_at": "2026-01-01T00:00:00Z",
            "finished_at": "2026-01-01T00:00:07Z",
            "remaining_ms": 4200,
            "results": [],
            "sending_ms": null,
            "found": 1,
            "ignored": 0,
            "error": null
        }))
        .unwrap();
        scan.state = state;
        scan
    }

    #[test]
    fn progress_in_words() {
        // while it runs, only what was found is announced
        assert_eq!(
            progress_text(&scan(ScanState::Running)),
            (
                "1 device found".to_owned(),
                Some("12 of 40 datagrams sent · about 5 s left".to_owned())
            )
        );
        assert_eq!(
            progress_text(&scan(ScanState::Done)).0,
            "Finished 2026-01-01 00:00:07 UTC · 12 of 40 datagrams sent · 1 device found"
        );
        let mut failed = scan(ScanState::Failed);
        failed.error = Some("no route".into());
        failed.found = 0;
        assert_eq!(
            progress_text(&failed),
            ("Failed: no route · 0 devices found".to_owned(), None)
        );
        let mut partly = scan(ScanState::Done);
        partly.error = Some("127.88.0.9 could not be reached".into());
        assert!(
            progress_text(&partly)
                .0
                .ends_with("1 device found · 127.88.0.9 could not be reached")
        );
    }
}
