//! Administration › Discovery › Devices: the registered devices and their status, live.

#[cfg(feature = "hydrate")]
mod live;
mod register;
mod remove;

use super::{show_optional_time, show_time};
use crate::api::{
    CurrentCertificate, DEFAULT_PAGE_SIZE, Device, DevicePage, DeviceQuery, DeviceStatus,
    MAX_PAGE_SIZE, StatusCounts,
};
use crate::components::{
    ColumnHeads, ConfirmRemoval, DiscoveryHeading, Notice, NoticeArea, PageSource, ReadOnlyNotice,
    RemoveButton, may_write, page_resource, with_data,
};
use crate::model::Area;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use register::RegisterForm;

const PATH: &str = "/devices";

/// Which devices the page lists: a status filter and a page, as in its URL
/// (`/devices?status=offline&offset=100&limit=50`), so that both work without JavaScript; or
/// one device (`/devices?id=7`), as the enrollment page links it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Listing {
    status: Option<DeviceStatus>,
    id: Option<i64>,
    offset: u64,
    limit: u64,
}

impl Listing {
    /// Reads the URL's query; what is not understood is left at its default.
    fn parse(get: impl Fn(&str) -> Option<String>) -> Self {
        let number = |key| get(key).and_then(|v| v.trim().parse::<u64>().ok());
        Listing {
            status: get("status").and_then(|s| DeviceStatus::parse(s.trim())),
            id: number("id").and_then(|id| i64::try_from(id).ok()),
            offset: number("offset").unwrap_or(0),
            limit: number("limit")
                .filter(|l| *l > 0)
                .map_or(DEFAULT_PAGE_SIZE, |l| l.min(MAX_PAGE_SIZE)),
        }
    }

    fn query(self) -> DeviceQuery {
        DeviceQuery {
            status: self.status,
            id: self.id,
            offset: Some(self.offset),
            limit: Some(self.limit),
        }
    }

    /// The page's address for this listing, leaving out what is the default.
    fn href(self) -> String {
        let mut params = Vec::new();
        if let Some(status) = self.status {
            params.push(format!("status={}", status.as_str()));
        }
        if let Some(id) = self.id {
            params.push(format!("id={id}"));
        }
        if self.offset > 0 {
            params.push(format!("offset={}", self.offset));
        }
        if self.limit != DEFAULT_PAGE_SIZE {
            params.push(format!("limit={}", self.limit));
        }
        if params.is_empty() {
            PATH.to_owned()
        } else {
            format!("{PATH}?{}", params.join("&"))
        }
    }

    /// The devices of a status (any, with `None`), from the first page: no longer one device.
    fn with_status(self, status: Option<DeviceStatus>) -> Self {
        Listing {
            status,
            id: None,
            offset: 0,
            ..self
        }
    }

    fn previous(self) -> Option<Self> {
        (self.offset > 0).then(|| Listing {
            offset: self.offset.saturating_sub(self.limit),
            ..self
        })
    }

    fn next(self, total: u64) -> Option<Self> {
        (self.offset + self.limit < total).then(|| Listing {
            offset: self.offset + self.limit,
            ..self
        })
    }
}

impl PageSource for DevicePage {
    type Query = DeviceQuery;

    #[cfg(feature = "ssr")]
    type Backend = dyn crate::DiscoveryBackend;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::DiscoveryBackend>,
        query: DeviceQuery,
    ) -> crate::BoxFuture<Result<Self, String>> {
        backend.devices(query)
    }

    #[cfg(feature = "hydrate")]
    fn load(query: DeviceQuery) -> impl Future<Output = Result<Self, String>> + 'static {
        crate::client::discovery::get_devices(query)
    }
}

#[component]
pub fn DevicesPage() -> impl IntoView {
    let params = use_query_map();
    let listing = Memo::new(move |_| params.with(|p| Listing::parse(|key| p.get(key))));
    let data = page_resource::<DevicePage>(move || listing.get().query());
    view! {
        <DiscoveryHeading title="Devices" />
        <ReadOnlyNotice area=Area::Devices text="You can see the devices but not change them." />
        {with_data(
            data,
            "devices",
            move |page| {
                view! { <DeviceList page listing=listing.get_untracked() /> }.into_any()
            },
        )}
    }
}

/// The state of the page, shared by its parts.
#[derive(Clone, Copy)]
struct Devices {
    listing: Listing,
    page: RwSignal<DevicePage>,
    notice: RwSignal<Option<Notice>>,
    /// The device whose removal waits for a confirmation.
    removing: RwSignal<Option<Device>>,
    /// The administrator may see the devices but not change them.
    read_only: bool,
    /// Re-reads of the list under way; only the last one's answer is shown.
    #[cfg(feature = "hydrate")]
    reads: crate::components::Rereads,
}

impl Devices {
    fn new(page: DevicePage, listing: Listing) -> Self {
        Devices {
            listing,
            page: RwSignal::new(page),
            notice: RwSignal::new(None),
            removing: RwSignal::new(None),
            read_only: !may_write(Area::Devices),
            #[cfg(feature = "hydrate")]
            reads: Default::default(),
        }
    }
}

/// Applies the status changes of an online-check round to the listed devices, each dated by the
/// server (the browser's clock may be off). Says whether a listed device answered for the first time: what it told
/// about itself (MAC address, name) is stored but not in the event, so the list is to be re-read.
#[cfg(any(feature = "hydrate", test))]
fn apply_changes(
    page: &mut DevicePage,
    changes: &[crate::api::StatusChange],
    counts: StatusCounts,
) -> bool {
    page.counts = counts;
    let mut first_answer = false;
    for change in changes {
        if let Some(device) = page.devices.iter_mut().find(|d| d.id == change.id) {
            if device.status != change.status {
                device.status = change.status;
                device.status_since = Some(change.status_since.clone());
            }
            first_answer |= device.mac.is_none() && change.status == DeviceStatus::Online;
            device.last_seen = change.last_seen.clone();
        }
    }
    first_answer
}

#[component]
fn DeviceList(page: DevicePage, listing: Listing) -> impl IntoView {
    let state = Devices::new(page, listing);
    #[cfg(feature = "hydrate")]
    live::follow(state);
    view! {
        <section aria-labelledby="devices-title">
            <h2 id="devices-title">"Registered devices"</h2>
            <StatusFilter state />
            {listing
                .id
                .map(|id| {
                    view! {
                        <p class="help one-device">
                            {format!("Only device {id} is shown. ")}
                            <a href=crate::url(&listing.with_status(None).href())>
                                "Show every device"
                            </a>
                        </p>
                    }
                })}
            <CheckNow state />
            <table class="devices">
                <caption class="visually-hidden">"Registered devices"</caption>
                <ColumnHeads
                    names=&[
                        "IP address",
                        "MAC address",
                        "Host name",
                        "OS",
                        "Status",
                        "Last seen",
                        "Status since",
                        "Certificate",
                    ]
                    last="Actions"
                />
                <tbody>
                    {move || {
                        state
                            .page
                            .with(|page| {
                                if page.devices.is_empty() {
                                    view! {
                                        <tr>
                                            <td colspan="9" class="empty">
                                                {empty_text(listing)}
                                            </td>
                                        </tr>
                                    }
                                        .into_any()
                                } else {
                                    page.devices
                                        .iter()
                                        .map(|device| device_row(state, device.clone()))
                                        .collect_view()
                                        .into_any()
                                }
                            })
                    }}
                </tbody>
            </table>
            <Paging state />
            <NoticeArea notice=state.notice />
        </section>
        <RegisterForm state />
        <ConfirmRemoval
            pending=state.removing
            id="remove-device"
            title=|device: &Device| format!("Remove {}?", super::device_name(device))
            text="Pharos stops managing it: no more online checks or jobs. A scan finds it again if it answers."
            action="Remove"
            on_confirm=Callback::new(move |device| remove::remove(state, device))
        />
    }
    .into_any()
}

fn empty_text(listing: Listing) -> String {
    if let Some(id) = listing.id {
        return format!(
            "There is no device {id}{}.",
            match listing.status {
                Some(status) => format!(" that is {}", status.as_str()),
                None => String::new(),
            }
        );
    }
    match listing.status {
        None => "No devices are registered yet: scan for them, or register one by its address."
            .to_owned(),
        Some(status) => format!("No device is {}.", status.as_str()),
    }
}

fn device_row(state: Devices, device: Device) -> impl IntoView {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
    let status = device.status.as_str();
    let (id, ip, mac, hostname, os) = (
        device.id,
        device.ip.clone(),
        dash(&device.mac),
        dash(&device.hostname),
        dash(&device.os),
    );
    let last_seen = show_optional_time(device.last_seen.as_deref());
    let since = show_optional_time(device.status_since.as_deref());
    let certificate = device.certificate.clone().map(certificate_cell);
    let remove_label = format!("Remove {ip}");
    view! {
        // the enrollment page links a device's certificate here
        <tr data-id=id id=format!("device-{id}")>
            <td>
                <code>{ip}</code>
            </td>
            <td>
                <code>{mac}</code>
            </td>
            <td>{hostname}</td>
            <td>{os}</td>
            <td>
                <span class=format!("badge {status}")>{status}</span>
            </td>
            <td>{last_seen}</td>
            <td>{since}</td>
            <td class="certificate">{certificate.unwrap_or_else(|| "—".into_any())}</td>
            <td>
                <RemoveButton
                    pending=state.removing
                    item=device
                    text="Remove"
                    label=remove_label
                    disabled=state.read_only
                />
            </td>
        </tr>
    }
}

/// A device's newest certificate: its state, expiry and (the start of) its serial, a link to the
/// enrollment page that lists it and can revoke it.
fn certificate_cell(certificate: CurrentCertificate) -> AnyView {
    let state = certificate.state.as_str();
    let serial = &certificate.serial;
    // enough to tell certificates apart at a glance; the whole serial is in the title
    let short = match serial.char_indices().nth(8) {
        Some((end, _)) => format!("{}…", &serial[..end]),
        None => serial.clone(),
    };
    view! {
        <a href=crate::url("/enrollment") title=format!("Certificate {serial}")>
            <span class=format!("badge {state}")>{state}</span>
            {format!(" until {} ", show_time(&certificate.not_after))}
            <code>{short}</code>
        </a>
    }
    .into_any()
}

/// The counts of each status, each a link that lists only those devices.
#[component]
fn StatusFilter(state: Devices) -> impl IntoView {
    let listing = state.listing;
    let link = move |status: Option<DeviceStatus>, count: Signal<u64>| {
        let label = status.map_or("All", |s| match s {
            DeviceStatus::Online => "Online",
            DeviceStatus::Offline => "Offline",
            DeviceStatus::Unknown => "Unknown",
        });
        let class = status.map_or("filter".to_owned(), |s| format!("filter {}", s.as_str()));
        view! {
            <li>
                <a
                    href=crate::url(&listing.with_status(status).href())
                    class=class
                    aria-current=(listing.status == status && listing.id.is_none())
                        .then_some("page")
                >
                    {label}
                    " "
                    <span class="count">{move || count.get()}</span>
                </a>
            </li>
        }
    };
    let count = move |of: fn(&StatusCounts) -> u64| {
        Signal::derive(move || state.page.with(|p| of(&p.counts)))
    };
    view! {
        <nav aria-label="Filter by status" class="filters">
            <ul>
                {link(None, count(StatusCounts::total))}
                {link(Some(DeviceStatus::Online), count(|c| c.online))}
                {link(Some(DeviceStatus::Offline), count(|c| c.offline))}
                {link(Some(DeviceStatus::Unknown), count(|c| c.unknown))}
            </ul>
        </nav>
    }
    .into_any()
}

#[component]
fn Paging(state: Devices) -> impl IntoView {
    let listing = state.listing;
    move || {
        state.page.with(|page| {
            let shown = page.devices.len() as u64;
            (page.total > 0).then(|| {
                let first = listing.offset + 1;
                let last = listing.offset + shown;
                view! {
                    <nav aria-label="Pages" class="paging">
                        <span>{format!("Devices {first}–{last} of {}", page.total)}</span>
                        {listing
                            .previous()
                            .map(|l| view! { <a href=crate::url(&l.href()) rel="prev">"Previous"</a> })}
                        {listing
                            .next(page.total)
                            .map(|l| view! { <a href=crate::url(&l.href()) rel="next">"Next"</a> })}
                    </nav>
                }
            })
        })
    }
}

/// Asks every device now, instead of waiting for the next round.
#[component]
fn CheckNow(state: Devices) -> impl IntoView {
    let running = RwSignal::new(false);
    let run = move |_| {
        running.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(live::check_now(state, running));
        #[cfg(not(feature = "hydrate"))]
        let _ = state;
    };
    view! {
        <div class="actions">
            <button type="button" on:click=run disabled=move || state.read_only || running.get()>
                {move || if running.get() { "Checking…" } else { "Check now" }}
            </button>
        </div>
    }
}

#[cfg(test)]
mod tests;

#[cfg(all(test, feature = "ssr"))]
mod rendered;
