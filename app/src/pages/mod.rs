//! One module per page, and what the discovery pages (devices, scans, jobs) share: where their
//! data comes from, how their forms show errors, how they show times.

mod devices;
mod home;
mod jobs;
mod network_settings;
mod not_found;
mod scans;

pub use devices::DevicesPage;
pub use home::Home;
pub use jobs::JobsPage;
pub use network_settings::NetworkSettingsPage;
pub use not_found::NotFound;
pub use scans::ScansPage;

use crate::components::{Dialog, Notice, NoticeArea};
use crate::model::FieldError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::BTreeSet;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Data a discovery page renders from. Its route renders with `SsrMode::Async`: the server reads
/// the data (from the database) before it sends the page, so the page reads complete without
/// JavaScript, and hands it to the browser inside the page. After a client-side navigation, or
/// when the query changes, the browser loads it itself.
trait PageSource: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// What the page asks for (a filter and a page of devices, say).
    type Query: Clone + PartialEq + Send + Sync + 'static;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::DiscoveryBackend>,
        query: Self::Query,
    ) -> crate::BoxFuture<Result<Self, String>>;

    #[cfg(feature = "hydrate")]
    fn load(query: Self::Query) -> impl Future<Output = Result<Self, String>> + 'static;
}

fn page_resource<T: PageSource>(
    query: impl Fn() -> T::Query + Send + Sync + 'static,
) -> Resource<Result<T, String>> {
    #[cfg(feature = "ssr")]
    let backend = use_context::<std::sync::Arc<dyn crate::DiscoveryBackend>>();
    Resource::new(query, move |query| {
        #[cfg(feature = "ssr")]
        let read = {
            let backend = backend.clone();
            async move {
                match backend {
                    Some(backend) => T::read(backend, query).await,
                    None => Err("the page has no data source".to_owned()),
                }
            }
        };
        #[cfg(feature = "hydrate")]
        let read = crate::client::discovery::handed_over(move || T::load(query));
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        let read = {
            let _ = query;
            std::future::pending()
        };
        read
    })
}

/// Shows the page's data, or why it could not be had. While other data loads (another filter,
/// say) the current data stays on the page.
fn with_data<T: PageSource>(
    data: Resource<Result<T, String>>,
    what: &'static str,
    show: impl Fn(T) -> AnyView + Clone + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <Transition fallback=move || view! { <p>{format!("Loading the {what}…")}</p> }>
            {move || {
                let show = show.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(value) => show(value),
                        Err(e) => {
                            view! {
                                <p class="notice error" role="alert">
                                    {format!("The {what} could not be loaded: {e}")}
                                </p>
                            }
                                .into_any()
                        }
                    }
                })
            }}
        </Transition>
    }
}

/// The errors of a form: the shared rules' as the administrator types (for each field once it
/// was edited), and what the server refused until the next edit.
#[derive(Clone, Copy)]
struct FormErrors {
    checked: Memo<Vec<FieldError>>,
    refused: RwSignal<Vec<FieldError>>,
    edited: RwSignal<BTreeSet<&'static str>>,
}

impl FormErrors {
    fn new(check: impl Fn() -> Vec<FieldError> + Send + Sync + 'static) -> Self {
        FormErrors {
            checked: Memo::new(move |_| check()),
            refused: RwSignal::new(Vec::new()),
            edited: RwSignal::new(BTreeSet::new()),
        }
    }

    /// Called on every edit of `field`.
    fn edit(&self, field: &'static str) {
        if !self.edited.with_untracked(|e| e.contains(field)) {
            self.edited.update(|e| {
                e.insert(field);
            });
        }
        if !self.refused.with_untracked(Vec::is_empty) {
            self.refused.set(Vec::new());
        }
    }

    /// Starts over, as after a successful submit.
    #[cfg(feature = "hydrate")]
    fn reset(&self) {
        self.edited.set(BTreeSet::new());
        self.refused.set(Vec::new());
    }

    #[cfg(feature = "hydrate")]
    fn refuse(&self, errors: Vec<FieldError>) {
        self.refused.set(errors);
    }

    /// Whether the form may not be sent.
    fn blocked(&self) -> bool {
        !self.checked.with(Vec::is_empty) || !self.refused.with(Vec::is_empty)
    }

    /// What is wrong with `field` (or with one of its items, `field[i]`).
    fn message(&self, field: &'static str) -> Option<String> {
        let checked = if self.edited.with(|e| e.contains(field)) {
            self.checked.with(|errors| messages_about(errors, field))
        } else {
            None
        };
        checked.or_else(|| self.refused.with(|errors| messages_about(errors, field)))
    }

    /// Whether anything is wrong with `field` that the page shows.
    fn invalid(&self, field: &'static str) -> String {
        self.message(field).is_some().to_string()
    }
}

/// A form's request to the server: one at a time, and what came of it.
#[derive(Clone, Copy)]
struct Sending {
    errors: FormErrors,
    busy: RwSignal<bool>,
    notice: RwSignal<Option<Notice>>,
}

impl Sending {
    fn new(errors: FormErrors) -> Self {
        Sending {
            errors,
            busy: RwSignal::new(false),
            notice: RwSignal::new(None),
        }
    }

    /// Whether the form may be sent now (nothing wrong with it, nothing under way); if so, it is
    /// from now on under way.
    fn begin(&self) -> bool {
        if self.errors.blocked() || self.busy.get_untracked() {
            return false;
        }
        self.busy.set(true);
        self.notice.set(None);
        true
    }

    /// Sends the request and shows what came of it: `done` takes the answer; a refusal shows at
    /// the fields it names, any other failure after `failed` ("The device was not registered").
    #[cfg(feature = "hydrate")]
    fn send<T: 'static>(
        self,
        request: impl Future<Output = Result<T, crate::client::discovery::Refusal>> + 'static,
        failed: &'static str,
        done: impl FnOnce(T) + 'static,
    ) {
        use crate::client::discovery::Refusal;
        leptos::task::spawn_local(async move {
            match request.await {
                Ok(answer) => done(answer),
                Err(Refusal::Invalid(refused)) => {
                    self.errors.refuse(refused);
                    self.notice.set(Some(Notice::Error(format!(
                        "{failed}: the server refused it, see the marked fields."
                    ))));
                }
                Err(refusal) => self
                    .notice
                    .set(Some(Notice::Error(format!("{failed}: {}", refusal.text())))),
            }
            self.busy.set(false);
        });
    }
}

fn messages_about(errors: &[FieldError], field: &str) -> Option<String> {
    let about: Vec<&str> = errors
        .iter()
        .filter(|e| {
            e.field == field
                || e.field
                    .strip_prefix(field)
                    .is_some_and(|rest| rest.starts_with('['))
        })
        .map(|e| e.message.as_str())
        .collect();
    (!about.is_empty()).then(|| about.join("; "))
}

/// The message under a form's field (its element's id is `{id}-error`).
#[component]
fn FieldMessage(id: &'static str, errors: FormErrors, field: &'static str) -> impl IntoView {
    view! {
        <p class="field-error" id=format!("{id}-error")>
            {move || errors.message(field)}
        </p>
    }
}

/// A form's submit button, and what came of its last request.
#[component]
fn SendActions(
    sending: Sending,
    label: &'static str,
    /// The label while the request is under way.
    busy: &'static str,
    /// Whether something besides the form holds the button back.
    #[prop(optional, into)]
    held: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="actions">
            <button
                type="submit"
                class="primary"
                disabled=move || sending.errors.blocked() || sending.busy.get() || held.get()
            >
                {move || if sending.busy.get() { busy } else { label }}
            </button>
            <NoticeArea notice=sending.notice />
        </div>
    }
}

/// The title, breadcrumb and heading of a discovery page.
#[component]
fn DiscoveryHeading(title: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <nav aria-label="Breadcrumb" class="breadcrumb">
            <ol>
                <li>"Administration"</li>
                <li>"Discovery"</li>
                <li aria-current="page">{title}</li>
            </ol>
        </nav>
        <h1>{title}</h1>
    }
}

/// A line of text in a form, with its hint and its field's message.
#[component]
fn FormText(
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    value: RwSignal<String>,
    errors: FormErrors,
    /// The field's name in the rules' errors.
    field: &'static str,
    #[prop(optional)] input_mode: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input
                type="text"
                id=id
                name=field
                inputmode=input_mode
                prop:value=move || value.get()
                value=value.get_untracked()
                aria-invalid=move || errors.invalid(field)
                aria-describedby=format!("{id}-hint {id}-error")
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    errors.edit(field);
                }
            />
            <p class="hint" id=format!("{id}-hint")>{hint}</p>
            <FieldMessage id errors field />
        </div>
    }
}

/// Asks before something is removed for good; the focus starts on Cancel, so that Enter does
/// not remove by accident.
#[component]
fn Confirm(
    /// Prefixes the ids of the dialog's title and text.
    id: &'static str,
    title: String,
    text: &'static str,
    /// The confirming button's label.
    action: &'static str,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let cancel_button = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = cancel_button.get() {
            let _ = button.focus();
        }
    });
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            on_cancel.run(());
        }
    };
    view! {
        <Dialog
            role="alertdialog"
            labelled_by=format!("{id}-title")
            described_by=format!("{id}-text")
            on_key
        >
            <h3 id=format!("{id}-title")>{title}</h3>
            <p id=format!("{id}-text")>{text}</p>
            <div class="actions">
                <button type="button" class="danger" on:click=move |_| on_confirm.run(())>
                    {action}
                </button>
                <button type="button" node_ref=cancel_button on:click=move |_| on_cancel.run(())>
                    "Cancel"
                </button>
            </div>
        </Dialog>
    }
}

/// Re-reads of what a page shows, which may overlap when events come quickly: only the answer
/// of the last one started is shown.
#[cfg(feature = "hydrate")]
#[derive(Clone, Copy)]
struct Rereads(StoredValue<(u64, bool)>);

#[cfg(feature = "hydrate")]
impl Rereads {
    fn new() -> Self {
        Rereads(StoredValue::new((0, false)))
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

    fn pending(&self) -> bool {
        self.0.try_with_value(|(_, pending)| *pending) == Some(true)
    }
}

/// The ranges typed into a text area: one per line, blank lines left out.
fn ranges_of(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An RFC 3339 time as the pages show it: in UTC to the second, the same on the server and in
/// every browser (the page is rendered on the server, which does not know the reader's zone).
fn show_time(text: &str) -> String {
    let shown = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|time| time.to_offset(UtcOffset::UTC).format(&shown).ok())
        .unwrap_or_else(|| text.to_owned())
}

fn show_optional_time(text: Option<&str>) -> String {
    text.map_or_else(|| "—".to_owned(), show_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_utc() {
        assert_eq!(show_time("2026-11-29T08:00:00Z"), "2026-11-29 08:00:00 UTC");
        assert_eq!(
            show_time("2026-11-29T09:00:00.123+01:00"),
            "2026-11-29 08:00:00 UTC"
        );
        assert_eq!(show_time("yesterday"), "yesterday");
        assert_eq!(show_optional_time(None), "—");
    }

    #[test]
    fn one_range_per_line() {
        let ranges = ranges_of("127.88.0.1-127.88.0.40\n\n  10.0.0.0/30 \n");
        assert_eq!(ranges, ["127.88.0.1-127.88.0.40", "10.0.0.0/30"]);
    }

    #[test]
    fn messages_of_a_field_and_its_items() {
        let errors = [
            FieldError::new("targets[0]", "a"),
            FieldError::new("targets", "b"),
            FieldError::new("targetsx", "c"),
            FieldError::new("name", "d"),
        ];
        assert_eq!(messages_about(&errors, "targets").as_deref(), Some("a; b"));
        assert_eq!(messages_about(&errors, "name").as_deref(), Some("d"));
        assert_eq!(messages_about(&errors, "due_at"), None);
    }
}
