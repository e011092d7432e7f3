use crate::api::ServerStatus;
use crate::components::{Checkbox, Draft};
use crate::model::{Distributed, Field};
use leptos::prelude::*;

#[component]
pub(super) fn DistributedSection(draft: Draft, status: RwSignal<ServerStatus>) -> impl IntoView {
    view! {
        <section aria-labelledby="distributed-title">
            <h2 id="distributed-title">"High Availability / Distributed mode"</h2>
            <p class="help">
                "Standalone servers connected to the same PostgreSQL database work as one installation; they exchange messages through database rows. Takes effect when each server restarts."
            </p>
            <Checkbox
                draft
                field=Field::DistributedEnabled
                label="Distributed mode enabled (server restart needed on change)"
                get=|d| d.distributed_enabled()
                set=|d, v| d.distributed = Some(Distributed { enabled: v })
            />
            <p class="help">
                {move || {
                    let n = status.with(ServerStatus::alive_servers);
                    format!(
                        "{n} server{} with a recent heartbeat {} this database.",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "uses" } else { "use" },
                    )
                }}
            </p>
        </section>
    }
}

/// Says when the stored distributed mode differs from the one this server runs with.
#[component]
pub(super) fn RestartBanner(status: RwSignal<ServerStatus>) -> impl IntoView {
    move || {
        status.with(|s| {
            s.distributed.as_ref().filter(|d| d.restart_required).map(|d| {
                view! {
                    <p class="notice warning" role="status">
                        {format!(
                            "Restart required: distributed mode is stored as {} but this server runs with it {}. It takes effect when the server restarts.",
                            if d.configured { "on" } else { "off" },
                            if d.running { "on" } else { "off" },
                        )}
                    </p>
                }
            })
        })
    }
}
