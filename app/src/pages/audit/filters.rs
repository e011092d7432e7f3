//! Which log the page shows, filtered how, as in its address
//! (`/audit?log=security&user=alice&from=2026-11-29T08:00`), and the form that sets it.

use crate::api::AuditQuery;
use crate::model::Area;
use leptos::prelude::*;
use leptos_router::params::ParamsMap;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

const PATH: &str = "/audit";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) enum Log {
    /// Every change, with what it was before and after.
    #[default]
    Audit,
    Security,
}

/// The page's log and filters. The times are as a `datetime-local` field holds them
/// (`2026-11-29T08:00`), read as UTC like every time the pages show.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(super) struct LogView {
    pub log: Log,
    pub user: String,
    /// Audit log only.
    pub area: Option<Area>,
    pub from: String,
    pub to: String,
    /// Only entries older than this id (a later page).
    pub before: Option<i64>,
}

impl LogView {
    /// Reads the URL's query; what is not understood is left out.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Self {
        let log = match get("log").as_deref().map(str::trim) {
            Some("security") => Log::Security,
            _ => Log::Audit,
        };
        let time = |key| {
            get(key)
                .and_then(|t| utc_time(&t))
                .map(field_time)
                .unwrap_or_default()
        };
        LogView {
            log,
            user: get("user").map(|u| u.trim().to_owned()).unwrap_or_default(),
            area: (log == Log::Audit)
                .then(|| get("area").and_then(|a| Area::parse(a.trim())))
                .flatten(),
            from: time("from"),
            to: time("to"),
            before: get("before").and_then(|b| b.trim().parse().ok()),
        }
    }

    /// What is asked of the server.
    pub fn query(&self) -> AuditQuery {
        let rfc3339 = |text: &str| utc_time(text).and_then(|time| time.format(&Rfc3339).ok());
        AuditQuery {
            before: self.before,
            limit: None,
            user: Some(self.user.clone()).filter(|u| !u.is_empty()),
            area: self.area,
            from: rfc3339(&self.from),
            to: rfc3339(&self.to),
        }
    }

    /// The page's address for this view, leaving out what is not set.
    pub fn href(&self) -> String {
        let mut params = ParamsMap::new();
        if self.log == Log::Security {
            params.insert("log", "security".to_owned());
        }
        for (key, value) in [("user", &self.user), ("from", &self.from), ("to", &self.to)] {
            if !value.is_empty() {
                params.insert(key, value.clone());
            }
        }
        if let Some(area) = self.area {
            params.insert("area", area.as_str().to_owned());
        }
        if let Some(before) = self.before {
            params.insert("before", before.to_string());
        }
        format!("{PATH}{}", params.to_query_string())
    }

    /// The next page: entries older than `before`.
    pub fn older(&self, before: i64) -> Self {
        LogView {
            before: Some(before),
            ..self.clone()
        }
    }

    /// The first page, with the same filters.
    pub fn newest(&self) -> Self {
        LogView {
            before: None,
            ..self.clone()
        }
    }

    /// The other log, keeping the filters it has too.
    pub fn switched(&self, log: Log) -> Self {
        LogView {
            log,
            area: if log == Log::Audit { self.area } else { None },
            before: None,
            ..self.clone()
        }
    }
}

/// A time typed into a `datetime-local` field (read as UTC), or an RFC 3339 time.
fn utc_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    OffsetDateTime::parse(text, &Rfc3339)
        .map(|time| time.to_offset(UtcOffset::UTC))
        .or_else(|_| PrimitiveDateTime::parse(text, &minutes).map(|t| t.assume_utc()))
        .or_else(|_| PrimitiveDateTime::parse(text, &seconds).map(|t| t.assume_utc()))
        .ok()
}

/// A time as a `datetime-local` field holds it (to the minute, or to the second if it has
/// seconds).
fn field_time(time: OffsetDateTime) -> String {
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let format = if time.second() == 0 { minutes } else { seconds };
    time.format(&format).unwrap_or_default()
}

/// The filters of the log shown. Without JavaScript the form's own request opens the filtered
/// page; with it, the page goes to the same address (leaving out empty fields) itself.
#[component]
pub(super) fn Filters(
    view: Memo<LogView>,
    /// The log filtered (the form is made anew for the other one, which has other fields).
    log: Log,
) -> impl IntoView {
    let initial = view.get_untracked();
    let user = RwSignal::new(initial.user.clone());
    let area = RwSignal::new(
        initial
            .area
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
    );
    let from = RwSignal::new(initial.from.clone());
    let to = RwSignal::new(initial.to.clone());
    // the fields show the filters of the address (after a link or the browser's Back, too)
    Effect::new(move |_| {
        view.with(|v| {
            user.set(v.user.clone());
            area.set(v.area.map(|a| a.as_str().to_owned()).unwrap_or_default());
            from.set(v.from.clone());
            to.set(v.to.clone());
        })
    });
    let navigate = leptos_router::hooks::use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let chosen = LogView::parse(|key| match key {
            "log" => (log == Log::Security).then(|| "security".to_owned()),
            "user" => Some(user.get_untracked()),
            "area" => Some(area.get_untracked()),
            "from" => Some(from.get_untracked()),
            "to" => Some(to.get_untracked()),
            _ => None,
        });
        navigate(&chosen.href(), Default::default());
    };
    let security = log == Log::Security;
    let area_field = (!security).then(|| {
        let option = |value: &'static str, label: &'static str| {
            let selected = initial.area.map_or("", Area::as_str) == value;
            view! {
                <option value=value selected=selected>
                    {label}
                </option>
            }
        };
        view! {
            <div class="field">
                <label for="audit-area">"Area"</label>
                <select
                    id="audit-area"
                    name="area"
                    prop:value=move || area.get()
                    on:change=move |ev| area.set(event_target_value(&ev))
                >
                    {option("", "Every area")}
                    {Area::ALL
                        .into_iter()
                        .map(|a| option(a.as_str(), a.label()))
                        .collect_view()}
                </select>
            </div>
        }
    });
    let time_field = move |id: &'static str,
                           name: &'static str,
                           label: &'static str,
                           value: RwSignal<String>| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <input
                    type="datetime-local"
                    id=id
                    name=name
                    value=value.get_untracked()
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))
                />
            </div>
        }
    };
    view! {
        <form class="log-filters" method="get" action=crate::url(PATH) on:submit=submit>
            {security.then(|| view! { <input type="hidden" name="log" value="security" /> })}
            <div class="field-row">
                <div class="field">
                    <label for="audit-user">"User"</label>
                    <input
                        type="text"
                        id="audit-user"
                        name="user"
                        autocomplete="off"
                        value=initial.user.clone()
                        prop:value=move || user.get()
                        on:input=move |ev| user.set(event_target_value(&ev))
                    />
                </div>
                {area_field}
                {time_field("audit-from", "from", "From (UTC)", from)}
                {time_field("audit-to", "to", "Until (UTC)", to)}
            </div>
            <div class="actions">
                <button type="submit" class="primary">
                    "Filter"
                </button>
                <a href=crate::url(&LogView::default().switched(log).href())>"Clear the filters"</a>
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> LogView {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LogView::parse(|key| map.get(key).cloned())
    }

    #[test]
    fn views_read_from_and_write_to_the_url() {
        assert_eq!(parse(&[]), LogView::default());
        assert_eq!(LogView::default().href(), "/audit");
        let view = parse(&[
            ("user", " alice "),
            ("area", "jobs"),
            ("from", "2026-11-29T08:00"),
            ("to", "2026-11-30T09:30:15Z"),
            ("before", "120"),
        ]);
        assert_eq!(view.user, "alice");
        assert_eq!(view.area, Some(Area::Jobs));
        assert_eq!(view.to, "2026-11-30T09:30:15");
        let query = view.query();
        assert_eq!(query.from.as_deref(), Some("2026-11-29T08:00:00Z"));
        assert_eq!(query.to.as_deref(), Some("2026-11-30T09:30:15Z"));
        assert_eq!(query.user.as_deref(), Some("alice"));
        assert_eq!(query.before, Some(120));
        assert_eq!(parse_href(&view.href()), view);
        assert_eq!(view.newest().before, None);
        assert_eq!(view.older(7).before, Some(7));
    }

    #[test]
    fn the_security_log_has_no_areas() {
        let view = parse(&[("log", "security"), ("area", "jobs"), ("from", "junk")]);
        assert_eq!(view.log, Log::Security);
        assert_eq!(view.area, None);
        assert_eq!(view.from, "", "what is not a time is left out");
        assert_eq!(view.href(), "/audit?log=security");
        let back = parse(&[("area", "jobs"), ("user", "bob")]).switched(Log::Security);
        assert_eq!((back.area, back.user.as_str()), (None, "bob"));
    }

    #[test]
    fn times_in_other_zones_read_as_utc() {
        let view = parse(&[("from", "2026-11-29T09:00:00+01:00")]);
        assert_eq!(view.from, "2026-11-29T08:00");
    }

    /// Reads an address the way the router does.
    fn parse_href(href: &str) -> LogView {
        let query = href.split_once('?').map_or("", |(_, q)| q);
        let pairs: HashMap<String, String> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), leptos_router::location::Url::unescape(v)))
            .collect();
        LogView::parse(|key| pairs.get(key).cloned())
    }
}
