//! The servers that use this database: which are live, whose clock is off, and whether they
//! exchange changes with this one.

use crate::api::{ServerEntry, ServerStatus};
use leptos::prelude::*;

/// Server names as a sentence lists them: "pg-b", "pg-b and pg-c", "pg-b, pg-c and pg-d".
pub(super) fn names(servers: &[&ServerEntry]) -> String {
    match servers {
        [] => String::new(),
        [one] => one.name.clone(),
        [first @ .., last] => format!(
            "{} and {}",
            first
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            last.name
        ),
    }
}

/// How far a clock is from the database's: "clock 2 min 5 s ahead of the database".
fn clock_text(offset_ms: i64) -> String {
    let seconds = (offset_ms.unsigned_abs() + 500) / 1000;
    let parts = [
        (seconds / 3600, "h"),
        (seconds / 60 % 60, "min"),
        (seconds % 60, "s"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n} {unit}"))
    .collect::<Vec<_>>()
    .join(" ");
    let direction = if offset_ms > 0 { "ahead of" } else { "behind" };
    format!("clock {parts} {direction} the database")
}

/// The warning that stays while other live servers use this database without this server
/// exchanging changes with them.
pub(super) fn unsynchronised_text(status: &ServerStatus) -> Option<String> {
    let others = status.unsynchronised();
    (!others.is_empty()).then(|| {
        format!(
            "Distributed mode is off, but {} {} this database too: changes made on one server do \
             not reach the others.",
            names(&others),
            if others.len() == 1 { "uses" } else { "use" }
        )
    })
}

#[component]
pub(super) fn UnsynchronisedWarning(status: RwSignal<ServerStatus>) -> impl IntoView {
    move || {
        status.with(unsynchronised_text).map(|text| {
            view! {
                <p class="notice warning" role="status" data-testid="unsynchronised">
                    {text}
                </p>
            }
        })
    }
}

/// Every server known in the database: live or gone, and a warning where its clock is off.
#[component]
pub(super) fn ServerList(status: RwSignal<ServerStatus>) -> impl IntoView {
    let rows = move || {
        status.with(|s| {
            s.servers
                .iter()
                .map(|server| {
                    let (state, class) = if server.alive {
                        ("live", "badge live")
                    } else {
                        ("gone", "badge gone")
                    };
                    let clock = server
                        .clock_off()
                        .then_some(server.clock_offset_ms)
                        .flatten()
                        .map(|offset| {
                            view! { <span class="clock-off">{clock_text(offset)}</span> }
                        });
                    view! {
                        <tr data-server=server.name.clone()>
                            <th scope="row">
                                {server.name.clone()}
                                {server
                                    .this_server
                                    .then(|| view! { <span class="detail">"this server"</span> })}
                            </th>
                            <td>{server.addresses.join(", ")}</td>
                            <td>
                                <span class=class>{state}</span>
                            </td>
                            <td>{server.last_heartbeat.clone()}</td>
                            <td>{clock}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section aria-labelledby="servers-title">
            <h2 id="servers-title">"Servers on this database"</h2>
            <table class="servers">
                <thead>
                    <tr>
                        <th scope="col">"Server"</th>
                        <th scope="col">"Addresses"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Last heartbeat"</th>
                        <th scope="col">"Clock"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str) -> ServerEntry {
        ServerEntry {
            id: name.into(),
            name: name.into(),
            addresses: Vec::new(),
            started_at: String::new(),
            last_heartbeat: String::new(),
            alive: true,
            this_server: false,
            clock_offset_ms: None,
        }
    }

    #[test]
    fn names_read_as_a_sentence() {
        let (b, c, d) = (server("pg-b"), server("pg-c"), server("pg-d"));
        assert_eq!(names(&[]), "");
        assert_eq!(names(&[&b]), "pg-b");
        assert_eq!(names(&[&b, &c]), "pg-b and pg-c");
        assert_eq!(names(&[&b, &c, &d]), "pg-b, pg-c and pg-d");
    }

    #[test]
    fn clock_offsets_say_how_far_and_which_way() {
        assert_eq!(clock_text(125_000), "clock 2 min 5 s ahead of the database");
        assert_eq!(clock_text(-61_400), "clock 1 min 1 s behind the database");
        assert_eq!(clock_text(120_000), "clock 2 min ahead of the database");
        assert_eq!(
            clock_text(-3_723_600),
            "clock 1 h 2 min 4 s behind the database"
        );
    }
}
