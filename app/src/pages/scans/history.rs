//! The scans of every server sharing the database, to open again.

use super::{Scans, state_text, target_text};
use crate::api::Scan;
use crate::components::ColumnHeads;
use crate::pages::show_time;
use leptos::prelude::*;

#[component]
pub(super) fn History(scans: Scans) -> impl IntoView {
    view! {
        <section aria-labelledby="history-title">
            <h2 id="history-title">"Earlier scans"</h2>
            <p class="help">"The newest scans of every server, newest first."</p>
            {move || {
                scans
                    .list
                    .with(|list| {
                        if list.is_empty() {
                            view! { <p class="empty">"No scans yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="scans">
                                    <ColumnHeads
                                        names=&["Started", "Scanned", "State", "Found"]
                                        last="Actions"
                                    />
                                    <tbody>
                                        {list
                                            .iter()
                                            .map(|scan| scan_row(scans, scan))
                                            .collect_view()}
                                    </tbody>
                                </table>
                            }
                                .into_any()
                        }
                    })
            }}
        </section>
    }
    .into_any()
}

fn scan_row(scans: Scans, scan: &Scan) -> impl IntoView {
    let state = state_text(scan.state);
    let id = scan.id.clone();
    let started = show_time(&scan.started_at);
    let open_label = format!("Open the scan started {started}");
    let href = crate::url(&format!("/scans?scan={id}"));
    let is_shown = {
        let id = id.clone();
        move || scans.shown.with(|s| s.as_ref().is_some_and(|s| s.id == id))
    };
    view! {
        <tr>
            <td>{started}</td>
            <td>{target_text(scan)}</td>
            <td>
                <span class=format!("badge {state}")>{state}</span>
            </td>
            <td>{scan.found}</td>
            <td>
                // a link, so that it opens the scan without JavaScript too
                <a
                    href=href
                    class="button small"
                    aria-label=open_label
                    aria-current=move || is_shown().then_some("true")
                    on:click=move |ev| {
                        // a click to open it elsewhere (a new tab, say) is the browser's
                        let elsewhere = ev.button() != 0 || ev.ctrl_key() || ev.meta_key()
                            || ev.shift_key() || ev.alt_key();
                        if !elsewhere {
                            ev.prevent_default();
                            scans.open(id.clone());
                        }
                    }
                >
                    "Open"
                </a>
            </td>
        </tr>
    }
}
