//! The entries of the logs.

use crate::api::{AuditEntry, SecurityEntry};
use crate::components::ColumnHeads;
use crate::pages::show_time;
use leptos::prelude::*;
use serde_json::Value;

/// The longest a value is shown in the table; the whole of it is in the cell's tooltip.
const SHOWN_CHARS: usize = 80;

/// A value before or after a change, compactly: text as it is, nothing as a dash, anything else
/// as JSON.
fn compact(value: &Value) -> String {
    match value {
        Value::Null => "—".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `text` cut to [`SHOWN_CHARS`], and whether it was cut.
fn shortened(text: &str) -> (String, bool) {
    if text.chars().count() <= SHOWN_CHARS {
        (text.to_owned(), false)
    } else {
        let cut: String = text.chars().take(SHOWN_CHARS - 1).collect();
        (format!("{cut}…"), true)
    }
}

fn value_view(value: &Value) -> impl IntoView + use<> {
    let full = compact(value);
    let (shown, cut) = shortened(&full);
    view! { <code title=cut.then_some(full)>{shown}</code> }
}

fn dash(text: Option<String>) -> String {
    text.unwrap_or_else(|| "—".to_owned())
}

#[component]
pub(super) fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="empty">"No changes match the filters."</p> }.into_any();
    }
    view! {
        <table class="log">
            <caption class="visually-hidden">"Changes, newest first"</caption>
            <ColumnHeads
                names=&["Time", "User", "Client address", "Area", "Action", "Field", "Old → new"]
            />
            <tbody>
                {entries
                    .into_iter()
                    .map(|entry| {
                        view! {
                            <tr data-id=entry.id>
                                <td class="time">{show_time(&entry.at)}</td>
                                <td>{entry.actor}</td>
                                <td>
                                    <code>{dash(entry.source)}</code>
                                </td>
                                <td>{entry.area.label()}</td>
                                <td>{entry.action}</td>
                                <td>
                                    <code>{entry.field}</code>
                                </td>
                                <td class="change">
                                    {value_view(&entry.old_value)} " → "
                                    {value_view(&entry.new_value)}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// A security event in words.
fn event_label(event: &str) -> String {
    match event {
        "sign_in" => "Signed in",
        "sign_in_failed" => "Sign-in failed",
        "sign_out" => "Signed out",
        "session_expired" => "Session expired",
        "locked_out" => "Locked out",
        "unlocked" => "Unlocked",
        "token_created" => "Token created",
        "token_revoked" => "Token revoked",
        "password_changed" => "Password changed",
        "password_reset" => "Password reset",
        "account_created" => "Account created",
        "account_changed" => "Account changed",
        "account_deleted" => "Account deleted",
        "group_created" => "Group created",
        "group_changed" => "Group changed",
        "group_deleted" => "Group deleted",
        other => return other.replace('_', " "),
    }
    .to_owned()
}

#[component]
pub(super) fn SecurityTable(entries: Vec<SecurityEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="empty">"No security events match the filters."</p> }.into_any();
    }
    view! {
        <table class="log">
            <caption class="visually-hidden">"Security events, newest first"</caption>
            <ColumnHeads names=&["Time", "Event", "User", "By", "Client address", "Detail"] />
            <tbody>
                {entries
                    .into_iter()
                    .map(|entry| {
                        let failed = matches!(entry.event.as_str(), "sign_in_failed" | "locked_out");
                        view! {
                            <tr data-id=entry.id class:failed=failed>
                                <td class="time">{show_time(&entry.at)}</td>
                                <td>{event_label(&entry.event)}</td>
                                <td>{dash(entry.username)}</td>
                                <td>{dash(entry.actor)}</td>
                                <td>
                                    <code>{dash(entry.source)}</code>
                                </td>
                                <td>{dash(entry.detail)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_compactly() {
        assert_eq!(compact(&json!(null)), "—");
        assert_eq!(compact(&json!("eth0")), "eth0");
        assert_eq!(compact(&json!(30)), "30");
        assert_eq!(compact(&json!({"a": [1, 2]})), r#"{"a":[1,2]}"#);
        let (shown, cut) = shortened(&"x".repeat(200));
        assert!(cut && shown.chars().count() == SHOWN_CHARS && shown.ends_with('…'));
        assert_eq!(shortened("short"), ("short".to_owned(), false));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn entries_render() {
        let entry = AuditEntry {
            id: 4,
            at: "2026-11-29T08:00:00Z".into(),
            actor: "alice".into(),
            source: Some("192.0.2.7".into()),
            area: crate::model::Area::NetworkSettings,
            action: "update".into(),
            field: "scan.timeout_ms".into(),
            old_value: json!(1000),
            new_value: json!(2000),
        };
        let html =
            Owner::new_root(None).with(|| view! { <AuditTable entries=vec![entry] /> }.to_html());
        for part in [
            "2026-11-29 08:00:00 UTC",
            "192.0.2.7",
            "Server Network Settings",
            "<code>1000</code> → <code>2000</code>",
        ] {
            assert!(html.contains(part), "{part} in {html}");
        }
        let html =
            Owner::new_root(None).with(|| view! { <SecurityTable entries=Vec::new() /> }.to_html());
        assert!(html.contains("No security events match the filters."));
    }

    #[test]
    fn events_in_words() {
        assert_eq!(event_label("sign_in_failed"), "Sign-in failed");
        assert_eq!(event_label("something_new"), "something new");
    }
}
