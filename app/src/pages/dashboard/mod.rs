//! The start page: the fleet now and over the last 24 hours or 7 days, the online check's round
//! times, today's scans and jobs, the servers, certificates close to expiry and the newest audit
//! entries, each for an administrator who may read its area. Rendered on the server, so it reads
//! without JavaScript (the range is a link); in the browser it follows the event stream.

mod chart;
#[cfg(feature = "hydrate")]
mod live;

use super::{show_optional_time, show_time};
use crate::api::{
    AuditEntry, Dashboard, EXPIRY_WARNING_DAYS, ExpiringCertificate, HistoryRange, ServerEntry,
    StateCount, StatusCounts,
};
use crate::components::{
    ColumnHeads, Notice, NoticeArea, PageSource, page_resource, use_me, with_data,
};
use crate::model::Rights;
use chart::{RoundChart, StatusChart};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// What the page asks for: a range, as the signed-in administrator (whose rights choose the
/// sections the server reads).
#[derive(Clone, Debug, PartialEq)]
pub struct Ask {
    pub range: HistoryRange,
    pub rights: Rights,
}

impl PageSource for Dashboard {
    type Query = Ask;

    #[cfg(feature = "ssr")]
    type Backend = dyn crate::DashboardBackend;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::DashboardBackend>,
        ask: Ask,
    ) -> crate::BoxFuture<Result<Self, String>> {
        backend.dashboard(ask.range, ask.rights)
    }

    #[cfg(feature = "hydrate")]
    fn load(ask: Ask) -> impl Future<Output = Result<Self, String>> + 'static {
        crate::client::dashboard::get_dashboard(ask.range)
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let params = use_query_map();
    let range = Memo::new(move |_| {
        params.with(|p| {
            p.get("range")
                .and_then(|r| HistoryRange::parse(r.trim()))
                .unwrap_or_default()
        })
    });
    let rights = use_me().map(|me| me.rights).unwrap_or_default();
    let data = page_resource::<Dashboard>(move || Ask {
        range: range.get(),
        rights: rights.clone(),
    });
    view! {
        <Title text="Dashboard" />
        <h1>"Dashboard"</h1>
        {with_data(data, "dashboard", |dashboard| view! { <Overview dashboard /> }.into_any())}
    }
    .into_any()
}

/// The state of the page, shared by its parts.
#[derive(Clone, Copy)]
struct DashboardState {
    dashboard: RwSignal<Dashboard>,
    notice: RwSignal<Option<Notice>>,
    #[cfg(feature = "hydrate")]
    reads: crate::components::Rereads,
}

#[component]
fn Overview(dashboard: Dashboard) -> impl IntoView {
    let state = DashboardState {
        dashboard: RwSignal::new(dashboard),
        notice: RwSignal::new(None),
        #[cfg(feature = "hydrate")]
        reads: Default::default(),
    };
    #[cfg(feature = "hydrate")]
    live::follow(state);
    let d = state.dashboard;
    let has = move |section: fn(&Dashboard) -> bool| d.with_untracked(section);
    view! {
        <NoticeArea notice=state.notice />
        {has(|d| d.devices.is_some()).then(|| view! { <Devices state /> })}
        <div class="dashboard-grid">
            {has(|d| d.scans_today.is_some() || d.jobs_today.is_some())
                .then(|| view! { <Today state /> })}
            {has(|d| d.servers.is_some()).then(|| view! { <Servers state /> })}
            {has(|d| d.certificates.is_some()).then(|| view! { <Certificates state /> })}
        </div>
        {has(|d| d.audit.is_some()).then(|| view! { <Audit state /> })}
    }
    .into_any()
}

/// The statuses now, the chart over the range and the online check's rounds.
#[component]
fn Devices(state: DashboardState) -> impl IntoView {
    let d = state.dashboard;
    let range = d.with_untracked(|d| d.range);
    let now = Signal::derive(move || d.with(|d| chart::millis(&d.at).unwrap_or_default()));
    let counts = Signal::derive(move || {
        d.with(|d| d.devices.as_ref().map(|v| v.counts).unwrap_or_default())
    });
    let history = move || {
        d.with(|d| {
            d.devices
                .as_ref()
                .map(|v| v.history.clone())
                .unwrap_or_default()
        })
    };
    let buckets =
        Signal::derive(move || chart::buckets(&history(), range, now.get(), counts.get()));
    let summary = Signal::derive(move || summary(&counts.get(), &buckets.get(), range));
    let links = HistoryRange::ALL
        .into_iter()
        .map(|r| {
            view! {
                <a
                    class="button small"
                    href=crate::url(&format!("/?range={}", r.as_str()))
                    aria-current=(r == range).then_some("page")
                >
                    {r.label()}
                </a>
            }
        })
        .collect_view();
    view! {
        <section class="dashboard-devices" aria-labelledby="devices-heading">
            <h2 id="devices-heading">"Devices"</h2>
            <dl class="status-counts">
                <Count label="Online" class="online" value=move || counts.get().online />
                <Count label="Offline" class="offline" value=move || counts.get().offline />
                <Count label="Unknown" class="unknown" value=move || counts.get().unknown />
            </dl>
            <nav class="range" aria-label="History range">
                {links}
            </nav>
            <StatusChart buckets range now summary />
            <ul class="legend" aria-hidden="true">
                <li class="online">"online"</li>
                <li class="offline">"offline"</li>
                <li class="unknown">"unknown"</li>
            </ul>
            <RangeTable buckets range />
            <h3>"Online check"</h3>
            {move || last_round(&d.with(|d| d.devices.as_ref().and_then(|v| v.last_round.clone())))}
            {move || {
                view! { <RoundChart history=history() range now=now.get() /> }
            }}
        </section>
    }
    .into_any()
}

#[component]
fn Count(
    label: &'static str,
    class: &'static str,
    value: impl Fn() -> u64 + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class=class>
            <dt>{label}</dt>
            <dd id=format!("count-{class}")>{value}</dd>
        </div>
    }
    .into_any()
}

/// The chart in words, for a screen reader.
fn summary(now: &StatusCounts, buckets: &[chart::Bucket], range: HistoryRange) -> String {
    let online = buckets.iter().map(|b| b.counts.online);
    format!(
        "Now {} online, {} offline, {} unknown. Over the last {}: between {} and {} online.",
        now.online,
        now.offline,
        now.unknown,
        range.label(),
        online.clone().min().unwrap_or(0),
        online.max().unwrap_or(0),
    )
}

/// The chart's numbers as a table: each status now and its extremes over the range.
#[component]
fn RangeTable(buckets: Signal<Vec<chart::Bucket>>, range: HistoryRange) -> impl IntoView {
    let row = move |label: &'static str, of: fn(&StatusCounts) -> u64| {
        let values = move || buckets.with(|b| b.iter().map(|b| of(&b.counts)).collect::<Vec<_>>());
        view! {
            <tr>
                <th scope="row">{label}</th>
                <td>{move || values().last().copied().unwrap_or(0)}</td>
                <td>{move || values().iter().copied().min().unwrap_or(0)}</td>
                <td>{move || values().iter().copied().max().unwrap_or(0)}</td>
            </tr>
        }
    };
    view! {
        <table class="range-table">
            <caption>{format!("Devices over the last {}", range.label())}</caption>
            <ColumnHeads names=&["Status", "Now", "Fewest", "Most"] />
            <tbody>
                {row("Online", |c| c.online)} {row("Offline", |c| c.offline)}
                {row("Unknown", |c| c.unknown)}
            </tbody>
        </table>
    }
    .into_any()
}

fn last_round(round: &Option<crate::api::LastRound>) -> AnyView {
    match round {
        Some(round) => view! {
            <p class="last-round">
                {format!(
                    "Last round {}: {} devices checked in {:.0} ms (timeout {} ms), {} online, {} offline{}.",
                    show_time(&round.at),
                    round.report.checked,
                    round.report.duration_ms,
                    round.timeout_ms,
                    round.report.online,
                    round.report.offline,
                    if round.servers > 1 {
                        format!(", this server's share of {} servers", round.servers)
                    } else {
                        String::new()
                    },
                )}
            </p>
        }
        .into_any(),
        None => view! { <p class="empty">"No scheduled round has run on this server yet."</p> }
            .into_any(),
    }
}

/// Today's scans and job runs by state.
#[component]
fn Today(state: DashboardState) -> impl IntoView {
    let d = state.dashboard;
    let list = move |counts: Option<Vec<StateCount>>, none: &'static str| {
        counts.map(|counts| {
            if counts.is_empty() {
                return view! { <p class="empty">{none}</p> }.into_any();
            }
            counts
                .into_iter()
                .map(|c| {
                    view! {
                        <li>
                            <span class=format!("badge {}", c.state)>{c.state.clone()}</span>
                            " "
                            <span class="count">{c.count}</span>
                        </li>
                    }
                })
                .collect_view()
                .into_any()
        })
    };
    view! {
        <section class="dashboard-today" aria-labelledby="today-heading">
            <h2 id="today-heading">"Today"</h2>
            {move || {
                d.with(|d| d.scans_today.clone())
                    .map(|counts| {
                        view! {
                            <h3>"Scans"</h3>
                            <ul class="state-counts scans-today">
                                {list(Some(counts), "No scan today.")}
                            </ul>
                        }
                    })
            }}
            {move || {
                d.with(|d| d.jobs_today.clone())
                    .map(|counts| {
                        view! {
                            <h3>"Job runs"</h3>
                            <ul class="state-counts jobs-today">
                                {list(Some(counts), "No job run is due today.")}
                            </ul>
                        }
                    })
            }}
        </section>
    }
    .into_any()
}

#[component]
fn Servers(state: DashboardState) -> impl IntoView {
    let servers = move || {
        state
            .dashboard
            .with(|d| d.servers.clone().unwrap_or_default())
    };
    let row = |server: ServerEntry| {
        view! {
            <tr>
                <td>{server.name}{server.this_server.then_some(" (this server)")}</td>
                <td>
                    <span class=if server.alive {
                        "badge online"
                    } else {
                        "badge offline"
                    }>{if server.alive { "alive" } else { "gone" }}</span>
                </td>
                <td>{show_optional_time(Some(&server.last_heartbeat).filter(|t| !t.is_empty()).map(String::as_str))}</td>
            </tr>
        }
    };
    view! {
        <section class="dashboard-servers" aria-labelledby="servers-heading">
            <h2 id="servers-heading">"Servers"</h2>
            <table class="servers">
                <ColumnHeads names=&["Server", "State", "Last heartbeat"] />
                <tbody>{move || servers().into_iter().map(row).collect_view()}</tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn Certificates(state: DashboardState) -> impl IntoView {
    let certificates = move || {
        state
            .dashboard
            .with(|d| d.certificates.clone().unwrap_or_default())
    };
    let item = |c: ExpiringCertificate| {
        let when = if c.days_left < 0 {
            "expired".to_owned()
        } else {
            format!("{} days left", c.days_left)
        };
        let kind = if c.kind == "device_ca" {
            "Device CA"
        } else {
            "Web"
        };
        view! {
            <li class=if c.days_left < 0 { "expired" } else { "soon" }>
                <strong>{c.subject}</strong>
                {format!(" · {kind} · {when} · until {}", show_time(&c.not_after))}
            </li>
        }
    };
    view! {
        <section class="dashboard-certificates" aria-labelledby="certificates-heading">
            <h2 id="certificates-heading">"Certificates"</h2>
            {move || {
                let certificates = certificates();
                if certificates.is_empty() {
                    view! {
                        <p class="empty">
                            {format!(
                                "No certificate expires within {EXPIRY_WARNING_DAYS} days.",
                            )}
                        </p>
                    }
                        .into_any()
                } else {
                    view! {
                        <ul class="expiring">{certificates.into_iter().map(item).collect_view()}</ul>
                    }
                        .into_any()
                }
            }}
        </section>
    }
    .into_any()
}

#[component]
fn Audit(state: DashboardState) -> impl IntoView {
    let entries = move || {
        state
            .dashboard
            .with(|d| d.audit.clone().unwrap_or_default())
    };
    let row = |e: AuditEntry| {
        view! {
            <tr>
                <td>{show_time(&e.at)}</td>
                <td>{e.actor}</td>
                <td>{e.area.label()}</td>
                <td>{e.action}</td>
                <td>{e.field}</td>
            </tr>
        }
    };
    view! {
        <section class="dashboard-audit" aria-labelledby="audit-heading">
            <h2 id="audit-heading">"Latest changes"</h2>
            <table class="audit-latest">
                <ColumnHeads names=&["When", "Who", "Area", "Action", "Field"] />
                <tbody>{move || entries().into_iter().map(row).collect_view()}</tbody>
            </table>
            <p>
                <a href=crate::url("/audit")>"The whole audit log"</a>
            </p>
        </section>
    }
    .into_any()
}

#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use super::*;
    use crate::api::{DeviceOverview, HistoryPoint};
    use crate::pages::render_for_reader;

    #[test]
    fn the_page_reads_with_numbers_chart_and_sections() {
        let counts = StatusCounts {
            online: 8,
            offline: 3,
            unknown: 1,
        };
        let dashboard = Dashboard {
            at: "2026-11-30T12:02:00Z".into(),
            range: HistoryRange::Day,
            devices: Some(DeviceOverview {
                counts,
                history: vec![HistoryPoint {
                    at: "2026-11-30T11:55:00Z".into(),
                    counts,
                    online_min: 7,
                    online_max: 8,
                    rounds: 100,
                    round_ms_max: 1200,
                    round_ms_mean: 900,
                    timeout_ms: 1000,
                }],
                last_round: None,
            }),
            scans_today: Some(vec![StateCount {
                state: "done".into(),
                count: 2,
            }]),
            jobs_today: None,
            servers: Some(Vec::new()),
            certificates: Some(vec![ExpiringCertificate {
                kind: "device_ca".into(),
                subject: "CN=Pharos device CA".into(),
                fingerprint_sha256: "ab".into(),
                not_after: "2026-12-10T00:00:00Z".into(),
                days_left: 9,
            }]),
            audit: None,
        };
        let html = render_for_reader(|| view! { <Overview dashboard /> });
        for part in [
            "id=\"count-online\">8<",
            "id=\"count-offline\">3<",
            "Now 8 online, 3 offline, 1 unknown.",
            "<polygon points=\"708.8,64.7 ",
            "class=\"band online\"",
            "bar late",
            "Device CA · 9 days left",
            "No scheduled round has run on this server yet.",
            "href=\"/?range=7d\"",
        ] {
            assert!(html.contains(part), "{part}: {html}");
        }
        // sections left out by the server are not shown at all
        assert!(!html.contains("Latest changes") && !html.contains("Job runs"));
    }
}
