//! Administration › Global Configuration › Server Network Settings.

use crate::addresses::{RequestKind, device_endpoint, host_port};
use crate::api::{EXPORT_URL, PageData, ServerStatus};
use crate::client::{self, Answer};
use crate::settings::{
    Change, FieldError, Installation, JOB_EXPIRATION, NetworkSettings, NumberRule,
    ONLINE_CHECK_TIMEOUT, SCAN_TIMEOUT, ValidationContext, changes, check_host, check_path_prefix,
    check_port, leaf_paths, set_leaf, validate,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use serde_json::Value;
use std::collections::BTreeMap;

#[component]
pub fn NetworkSettingsPage() -> impl IntoView {
    // Read from memory while the server renders and handed to the browser inside the page, so
    // neither side waits. After a client-side navigation nothing was handed over: load it then.
    let handed_over = SharedValue::new(server_page_data).into_inner();
    view! {
        <Title text="Server Network Settings" />
        <nav aria-label="Breadcrumb" class="breadcrumb">
            <ol>
                <li>"Administration"</li>
                <li>"Global Configuration"</li>
                <li aria-current="page">"Server Network Settings"</li>
            </ol>
        </nav>
        <h1>"Server Network Settings"</h1>
        {match handed_over {
            Some(data) => show_page(data),
            None => view! { <LoadInBrowser /> }.into_any(),
        }}
    }
}

fn server_page_data() -> Option<Result<PageData, String>> {
    #[cfg(feature = "ssr")]
    {
        Some(
            use_context::<std::sync::Arc<dyn crate::PageBackend>>()
                .map(|backend| backend.page_data())
                .ok_or_else(|| "the page has no data source".to_owned()),
        )
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

fn show_page(data: Result<PageData, String>) -> AnyView {
    match data {
        Ok(data) => view! { <SettingsForm data /> }.into_any(),
        Err(e) => view! {
            <p class="notice error" role="alert">
                {format!("The settings could not be loaded: {e}")}
            </p>
        }
        .into_any(),
    }
}

#[component]
fn LoadInBrowser() -> impl IntoView {
    let data = LocalResource::new(client::get_page_data);
    view! {
        <Suspense fallback=|| view! { <p>"Loading the settings…"</p> }>
            {move || Suspend::new(async move { show_page(data.await) })}
        </Suspense>
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Notice {
    Success(String),
    Error(String),
}

#[derive(Clone, Debug, PartialEq)]
struct Conflict {
    theirs: Vec<Change>,
    mine: Vec<Change>,
    current: NetworkSettings,
    etag: String,
}

/// The state of the form, shared by its parts.
#[derive(Clone, Copy)]
struct Form {
    ctx: ValidationContext,
    /// The settings as last loaded from or saved to the server.
    base: RwSignal<NetworkSettings>,
    etag: RwSignal<String>,
    draft: RwSignal<NetworkSettings>,
    /// Fields whose text is not a value at all (empty, not a number); the draft keeps the last value.
    input_errors: RwSignal<BTreeMap<String, String>>,
    /// Errors the server reported for the last save, until the next edit.
    server_errors: RwSignal<Vec<FieldError>>,
    /// Every current error, one per field, in document order: what is shown and what blocks Save.
    errors: Memo<Vec<FieldError>>,
    status: RwSignal<ServerStatus>,
    notice: RwSignal<Option<Notice>>,
    conflict: RwSignal<Option<Conflict>>,
    saving: RwSignal<bool>,
    confirm_distributed: RwSignal<bool>,
}

impl Form {
    fn new(data: PageData) -> Self {
        let ctx = ValidationContext {
            installation: data.status.installation,
            database: data.status.database,
        };
        let draft = RwSignal::new(data.settings.clone());
        let input_errors = RwSignal::new(BTreeMap::<String, String>::new());
        let server_errors = RwSignal::new(Vec::<FieldError>::new());
        let order = leaf_paths(&NetworkSettings::defaults(Installation::Standalone).to_value());
        let errors = Memo::new(move |_| {
            let mut all: Vec<FieldError> = input_errors.with(|m| {
                m.iter()
                    .map(|(f, msg)| FieldError::new(f.clone(), msg.clone()))
                    .collect()
            });
            let later = draft
                .with(|d| validate(d, ctx))
                .into_iter()
                .chain(server_errors.get());
            for e in later {
                if !all.iter().any(|a| a.field == e.field) {
                    all.push(e);
                }
            }
            all.sort_by_key(|e| order.iter().position(|p| *p == e.field));
            all
        });
        Form {
            ctx,
            base: RwSignal::new(data.settings),
            etag: RwSignal::new(data.etag),
            draft,
            input_errors,
            server_errors,
            errors,
            status: RwSignal::new(data.status),
            notice: RwSignal::new(None),
            conflict: RwSignal::new(None),
            saving: RwSignal::new(false),
            confirm_distributed: RwSignal::new(false),
        }
    }

    fn edit(&self, f: impl FnOnce(&mut NetworkSettings)) {
        self.draft.update(f);
        if !self.server_errors.with_untracked(Vec::is_empty) {
            self.server_errors.set(Vec::new());
        }
    }

    fn set_input_error(&self, field: &str, message: Option<&str>) {
        self.input_errors.update(|m| match message {
            Some(message) => {
                m.insert(field.to_owned(), message.to_owned());
            }
            None => {
                m.remove(field);
            }
        });
    }

    /// The message shown under a field: unreadable text first, then the shared rules, then what the
    /// server said.
    fn error_for(&self, field: &str) -> Option<String> {
        self.errors.with(|v| {
            v.iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone())
        })
    }

    fn first_invalid_field(&self) -> Option<String> {
        self.errors
            .with_untracked(|v| v.first().map(|e| e.field.clone()))
    }

    fn dirty(&self) -> bool {
        self.draft.with(|d| self.base.with(|b| d != b))
    }

    fn reset_to(&self, settings: NetworkSettings, etag: Option<String>) {
        self.input_errors.set(BTreeMap::new());
        self.server_errors.set(Vec::new());
        self.base.set(settings.clone());
        self.draft.set(settings);
        if let Some(etag) = etag {
            self.etag.set(etag);
        }
    }
}

fn field_id(field: &str) -> String {
    field.replace('.', "-")
}

fn field_label(field: &str) -> &'static str {
    match field {
        "online_check.enabled" => "Online check enabled",
        "online_check.response_timeout_ms" => "Online check response timeout",
        "online_check.reply_port" => "Online check reply port",
        "scheduled_jobs.never_expire" => "Scheduled jobs never expire",
        "scheduled_jobs.expiration_minutes" => "Expiration time for scheduled jobs",
        "scan.timeout_ms" => "Scan timeout",
        "scan.broadcast_ip" => "Broadcast IP",
        "scan.reply_port" => "Scan reply port",
        "cluster_address.enabled" => "Cluster address enabled",
        "cluster_address.host" => "Cluster address: FQDN or IP",
        "cluster_address.port" => "Cluster address: port",
        "enrollment_address.enabled" => "Custom enrollment address enabled",
        "enrollment_address.host" => "Enrollment address: FQDN or IP",
        "enrollment_address.port" => "Enrollment address: port",
        "enrollment_address.path_prefix" => "Enrollment address: path prefix",
        "distributed" | "distributed.enabled" => "Distributed mode",
        _ => "Setting",
    }
}

fn show_value(field: &str, v: &Value) -> String {
    match v {
        Value::Null if field.ends_with("reply_port") => "any free port".into(),
        Value::Null => "(none)".into(),
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => "off".into(),
        Value::String(s) if s.is_empty() => "(empty)".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn focus_field(field: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(el) = document()
            .get_element_by_id(&field_id(field))
            .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = el.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = field;
}

fn save(form: Form, confirmed: bool) {
    if let Some(first) = form.first_invalid_field() {
        form.notice.set(Some(Notice::Error(
            "Correct the marked fields before saving.".into(),
        )));
        focus_field(&first);
        return;
    }
    let draft = form.draft.get_untracked();
    let base = form.base.get_untracked();
    let disabling_distributed = base.distributed_enabled() && !draft.distributed_enabled();
    if !confirmed
        && disabling_distributed
        && form.status.with_untracked(ServerStatus::alive_servers) > 1
    {
        form.confirm_distributed.set(true);
        return;
    }
    form.confirm_distributed.set(false);
    form.saving.set(true);
    form.notice.set(None);
    let etag = form.etag.get_untracked();
    spawn_local(async move {
        match client::put_settings(&draft, &etag).await {
            Answer::Stored {
                value: settings,
                etag,
            } => {
                form.reset_to(settings, Some(etag));
                form.notice
                    .set(Some(Notice::Success("The settings were saved.".into())));
                if let Ok(status) = client::get_status().await {
                    form.status.set(status);
                }
            }
            Answer::Invalid(errors) => {
                let first = errors.first().map(|e| e.field.clone());
                form.notice.set(Some(Notice::Error(format!(
                    "The server refused the changes: {}",
                    errors
                        .iter()
                        .map(|e| format!("{} {}", field_label(&e.field), e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ))));
                form.server_errors.set(errors);
                if let Some(first) = first {
                    focus_field(&first);
                }
            }
            Answer::Conflict => match client::get_settings().await {
                Ok((current, etag)) => {
                    let (base, mine) = (base.to_value(), draft.to_value());
                    form.conflict.set(Some(Conflict {
                        theirs: changes(&base, &current.to_value()),
                        mine: changes(&base, &mine),
                        current,
                        etag,
                    }));
                    form.notice.set(Some(Notice::Error(
                        "Someone else saved these settings after you opened them. Nothing of \
                         yours was saved: review their changes below."
                            .into(),
                    )));
                }
                Err(e) => form.notice.set(Some(Notice::Error(format!(
                    "Someone else saved first, and the current settings could not be loaded: {e}"
                )))),
            },
            Answer::Failed(e) => form
                .notice
                .set(Some(Notice::Error(format!("Nothing was saved: {e}")))),
        }
        form.saving.set(false);
    });
}

#[component]
fn SettingsForm(data: PageData) -> impl IntoView {
    let form = Form::new(data);
    let ha = form.ctx.installation == Installation::Ha;
    let save_disabled =
        move || form.saving.get() || !form.dirty() || !form.errors.with(Vec::is_empty);
    let discard = move |_| {
        form.reset_to(form.base.get_untracked(), None);
        form.notice.set(None);
    };
    let restore_defaults = move |_| {
        form.input_errors.set(BTreeMap::new());
        form.edit(|d| *d = NetworkSettings::defaults(form.ctx.installation));
        form.notice.set(Some(Notice::Success(
            "The defaults are in the form; Save to apply them.".into(),
        )));
    };
    view! {
        <form
            class="settings"
            novalidate
            on:submit=move |ev| {
                ev.prevent_default();
                save(form, false);
            }
        >
            <RestartBanner form />
            <OnlineCheckSection form />
            <ScheduledJobsSection form />
            <ScanSection form />
            <AddressSection form kind=AddressKind::Cluster />
            <AddressSection form kind=AddressKind::Enrollment />
            {(!ha).then(|| view! { <DistributedSection form /> })}
            <Preview form />
            <ConflictPanel form />
            <ConfirmDistributed form />
            <div class="actions">
                <button type="submit" class="primary" disabled=save_disabled>
                    {move || if form.saving.get() { "Saving…" } else { "Save" }}
                </button>
                <button type="button" on:click=discard disabled=move || !form.dirty()>
                    "Discard changes"
                </button>
                <button type="button" on:click=restore_defaults>
                    "Restore defaults"
                </button>
                <span class="backup">
                    <a href=EXPORT_URL download>
                        "Download a backup"
                    </a>
                    <input
                        type="file"
                        id="restore-backup"
                        class="visually-hidden"
                        accept="application/json,.json"
                        on:change=move |ev| restore_backup(form, ev)
                    />
                    <label for="restore-backup" class="button">
                        "Restore a backup…"
                    </label>
                </span>
                <p class="notice-area" role="status" aria-live="polite">
                    {move || {
                        form.notice
                            .get()
                            .map(|n| match n {
                                Notice::Success(t) => view! { <span class="notice success">{t}</span> }.into_any(),
                                Notice::Error(t) => view! { <span class="notice error">{t}</span> }.into_any(),
                            })
                    }}
                </p>
            </div>
        </form>
    }
}

/// Restores the settings from a backup file the administrator picked.
fn restore_backup(form: Form, ev: leptos::ev::Event) {
    use wasm_bindgen::JsCast;
    let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    else {
        return;
    };
    let Some(file) = input.files().and_then(|files| files.get(0)) else {
        return;
    };
    input.set_value(""); // so that picking the same file again is a change too
    if form.dirty() {
        form.notice.set(Some(Notice::Error(
            "Save or discard your changes before restoring a backup.".into(),
        )));
        return;
    }
    spawn_local(async move {
        let text = match wasm_bindgen_futures::JsFuture::from(file.text()).await {
            Ok(text) => text.as_string().unwrap_or_default(),
            Err(_) => {
                form.notice
                    .set(Some(Notice::Error("The file could not be read.".into())));
                return;
            }
        };
        let notice = match client::import_backup(text).await {
            Answer::Stored {
                value: result,
                etag,
            } => {
                form.reset_to(result.settings, Some(etag));
                if let Ok(status) = client::get_status().await {
                    form.status.set(status);
                }
                let upgraded: Vec<String> = result
                    .upgraded
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {} → {}",
                            field_label(&c.field),
                            show_value(&c.field, &c.old),
                            show_value(&c.field, &c.new)
                        )
                    })
                    .collect();
                Notice::Success(if upgraded.is_empty() {
                    "The backup was restored.".into()
                } else {
                    format!(
                        "The backup was restored. Upgraded from the older format: {}.",
                        upgraded.join("; ")
                    )
                })
            }
            Answer::Invalid(errors) => Notice::Error(format!(
                "The backup was refused and nothing changed: {}",
                errors
                    .iter()
                    .map(|e| format!("{} {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            // a restore needs no version, so 412 cannot come; reported like any failure
            Answer::Conflict => Notice::Error("The backup was not restored: conflict".into()),
            Answer::Failed(e) => Notice::Error(format!("The backup was not restored: {e}")),
        };
        form.notice.set(Some(notice));
    });
}

#[component]
fn FieldError(form: Form, field: &'static str) -> impl IntoView {
    view! {
        <p class="field-error" id=format!("{}-error", field_id(field))>
            {move || form.error_for(field)}
        </p>
    }
}

fn hint(rule: NumberRule) -> String {
    format!(
        "{} to {} {}; default {}",
        rule.min, rule.max, rule.unit, rule.default
    )
}

/// Reads a whole number typed into a field; `None` with the reason if it is none.
fn parse_number(text: &str) -> Result<u32, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is required");
    }
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return Err("must be a whole number");
    }
    text.parse().map_err(|_| "is far too large")
}

#[component]
fn NumberField(
    form: Form,
    field: &'static str,
    label: &'static str,
    rule: NumberRule,
    get: fn(&NetworkSettings) -> u32,
    set: fn(&mut NetworkSettings, u32),
    #[prop(optional, into)] disabled: Signal<bool>,
) -> impl IntoView {
    let id = field_id(field);
    let on_input = move |ev| match parse_number(&event_target_value(&ev)) {
        Ok(v) => {
            form.set_input_error(field, None);
            form.edit(|d| set(d, v));
        }
        Err(message) => form.set_input_error(field, Some(message)),
    };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <div class="input-row">
                <input
                    type="text"
                    inputmode="numeric"
                    id=id.clone()
                    name=field
                    prop:value=move || form.draft.with(|d| get(d).to_string())
                    value=form.draft.with_untracked(|d| get(d).to_string())
                    disabled=move || disabled.get()
                    aria-invalid=move || form.error_for(field).is_some().to_string()
                    aria-describedby=format!("{id}-hint {id}-error")
                    on:input=on_input
                />
                <span class="unit">{rule.unit}</span>
            </div>
            <p class="hint" id=format!("{id}-hint")>{hint(rule)}</p>
            <FieldError form field />
        </div>
    }
}

#[component]
fn Checkbox(
    form: Form,
    field: &'static str,
    label: &'static str,
    get: fn(&NetworkSettings) -> bool,
    set: fn(&mut NetworkSettings, bool),
) -> impl IntoView {
    let id = field_id(field);
    view! {
        <div class="field checkbox">
            <input
                type="checkbox"
                id=id.clone()
                name=field
                prop:checked=move || form.draft.with(get)
                checked=form.draft.with_untracked(get)
                aria-describedby=format!("{id}-error")
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    form.edit(|d| set(d, on));
                }
            />
            <label for=id>{label}</label>
            <FieldError form field />
        </div>
    }
}

/// "Any free port" or one specific UDP port.
#[component]
fn ReplyPortField(
    form: Form,
    field: &'static str,
    legend: &'static str,
    get: fn(&NetworkSettings) -> Option<u32>,
    set: fn(&mut NetworkSettings, Option<u32>),
) -> impl IntoView {
    let id = field_id(field);
    let specific = Signal::derive(move || {
        form.draft.with(|d| get(d).is_some()) || form.input_errors.with(|m| m.contains_key(field))
    });
    let pick_any = move |_| {
        form.set_input_error(field, None);
        form.edit(|d| set(d, None));
    };
    let pick_specific = move |_| {
        if form.draft.with_untracked(|d| get(d).is_none()) {
            form.set_input_error(field, Some("enter a port from 1 to 65535"));
            focus_field(field);
        }
    };
    let on_input = move |ev| match parse_number(&event_target_value(&ev)) {
        Ok(v) => {
            form.set_input_error(field, None);
            form.edit(|d| set(d, Some(v)));
        }
        Err(message) => form.set_input_error(field, Some(message)),
    };
    let text = move || {
        form.draft
            .with(|d| get(d).map(|p| p.to_string()).unwrap_or_default())
    };
    view! {
        <fieldset class="field port">
            <legend>{legend}</legend>
            <label>
                <input
                    type="radio"
                    name=format!("{id}-mode")
                    id=format!("{id}-any")
                    prop:checked=move || !specific.get()
                    checked=!specific.get_untracked()
                    on:change=pick_any
                />
                "Any free port (default)"
            </label>
            <label>
                <input
                    type="radio"
                    name=format!("{id}-mode")
                    id=format!("{id}-specific")
                    prop:checked=move || specific.get()
                    checked=specific.get_untracked()
                    on:change=pick_specific
                />
                "Specific port:"
            </label>
            <input
                type="text"
                inputmode="numeric"
                id=id.clone()
                name=field
                aria-label=format!("{legend}: port number")
                prop:value=text
                value=text
                disabled=move || !specific.get()
                aria-invalid=move || form.error_for(field).is_some().to_string()
                aria-describedby=format!("{id}-hint {id}-error")
                on:input=on_input
            />
            <p class="hint" id=format!("{id}-hint")>"UDP, 1 to 65535; default: any free port"</p>
            <FieldError form field />
        </fieldset>
    }
}

#[component]
fn OnlineCheckSection(form: Form) -> impl IntoView {
    let off = Signal::derive(move || form.draft.with(|d| !d.online_check.enabled));
    view! {
        <section aria-labelledby="online-check-title">
            <h2 id="online-check-title">"Online Check Parameters"</h2>
            <p class="help">
                "The server asks every registered device whether it is online; a device that does not answer within the timeout is shown as offline."
            </p>
            <Checkbox
                form
                field="online_check.enabled"
                label="Check whether devices are online"
                get=|d| d.online_check.enabled
                set=|d, v| d.online_check.enabled = v
            />
            <NumberField
                form
                field="online_check.response_timeout_ms"
                label="Online check response timeout"
                rule=ONLINE_CHECK_TIMEOUT
                get=|d| d.online_check.response_timeout_ms
                set=|d, v| d.online_check.response_timeout_ms = v
                disabled=off
            />
            <ReplyPortField
                form
                field="online_check.reply_port"
                legend="Online check reply port (UDP)"
                get=|d| d.online_check.reply_port
                set=|d, v| d.online_check.reply_port = v
            />
        </section>
    }
}

#[component]
fn ScheduledJobsSection(form: Form) -> impl IntoView {
    let never = Signal::derive(move || form.draft.with(|d| d.scheduled_jobs.never_expire));
    view! {
        <section aria-labelledby="jobs-title">
            <h2 id="jobs-title">"Scheduled Jobs"</h2>
            <Checkbox
                form
                field="scheduled_jobs.never_expire"
                label="Scheduled jobs never expire"
                get=|d| d.scheduled_jobs.never_expire
                set=|d, v| d.scheduled_jobs.never_expire = v
            />
            <NumberField
                form
                field="scheduled_jobs.expiration_minutes"
                label="Expiration time for scheduled jobs"
                rule=JOB_EXPIRATION
                get=|d| d.scheduled_jobs.expiration_minutes
                set=|d, v| d.scheduled_jobs.expiration_minutes = v
                disabled=never
            />
            <p class="help">
                "A job run that has not started within this time after it was due is marked expired and not run."
            </p>
        </section>
    }
}

#[component]
fn ScanSection(form: Form) -> impl IntoView {
    let field = "scan.broadcast_ip";
    let id = field_id(field);
    view! {
        <section aria-labelledby="scan-title">
            <h2 id="scan-title">"Scan Parameters"</h2>
            <NumberField
                form
                field="scan.timeout_ms"
                label="Scan timeout"
                rule=SCAN_TIMEOUT
                get=|d| d.scan.timeout_ms
                set=|d, v| d.scan.timeout_ms = v
            />
            <div class="field">
                <label for=id.clone()>"Broadcast IP"</label>
                <input
                    type="text"
                    id=id.clone()
                    name=field
                    prop:value=move || form.draft.with(|d| d.scan.broadcast_ip.clone())
                    value=form.draft.with_untracked(|d| d.scan.broadcast_ip.clone())
                    aria-invalid=move || form.error_for(field).is_some().to_string()
                    aria-describedby=format!("{id}-hint {id}-error")
                    on:input=move |ev| {
                        let v = event_target_value(&ev);
                        form.edit(|d| d.scan.broadcast_ip = v);
                    }
                />
                <p class="hint" id=format!("{id}-hint")>
                    "IPv4 broadcast address for scans of the local network; default 255.255.255.255. Scans of IP ranges send to each address instead."
                </p>
                <FieldError form field />
            </div>
            <ReplyPortField
                form
                field="scan.reply_port"
                legend="Scan reply port (UDP)"
                get=|d| d.scan.reply_port
                set=|d, v| d.scan.reply_port = v
            />
        </section>
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum AddressKind {
    Cluster,
    Enrollment,
}

/// Host, port and (enrollment only) path prefix of one of the two addresses.
#[derive(Clone, Debug, PartialEq)]
struct AddressValue {
    enabled: bool,
    host: String,
    port: u32,
    path_prefix: Option<String>,
}

impl AddressKind {
    fn section(self) -> &'static str {
        match self {
            AddressKind::Cluster => "cluster_address",
            AddressKind::Enrollment => "enrollment_address",
        }
    }

    fn get(self, d: &NetworkSettings) -> AddressValue {
        match self {
            AddressKind::Cluster => AddressValue {
                enabled: d.cluster_address.enabled,
                host: d.cluster_address.host.clone(),
                port: d.cluster_address.port,
                path_prefix: None,
            },
            AddressKind::Enrollment => AddressValue {
                enabled: d.enrollment_address.enabled,
                host: d.enrollment_address.host.clone(),
                port: d.enrollment_address.port,
                path_prefix: Some(d.enrollment_address.path_prefix.clone()),
            },
        }
    }

    fn set(self, d: &mut NetworkSettings, v: AddressValue) {
        match self {
            AddressKind::Cluster => {
                d.cluster_address.enabled = v.enabled;
                d.cluster_address.host = v.host;
                d.cluster_address.port = v.port;
            }
            AddressKind::Enrollment => {
                d.enrollment_address.enabled = v.enabled;
                d.enrollment_address.host = v.host;
                d.enrollment_address.port = v.port;
                d.enrollment_address.path_prefix = v.path_prefix.unwrap_or_default();
            }
        }
    }
}

#[component]
fn AddressSection(form: Form, kind: AddressKind) -> impl IntoView {
    let section = kind.section();
    let host_field: &'static str = match kind {
        AddressKind::Cluster => "cluster_address.host",
        AddressKind::Enrollment => "enrollment_address.host",
    };
    let enabled_field: &'static str = match kind {
        AddressKind::Cluster => "cluster_address.enabled",
        AddressKind::Enrollment => "enrollment_address.enabled",
    };
    let current = Memo::new(move |_| form.draft.with(|d| kind.get(d)));
    let dialog_open = RwSignal::new(false);
    let shown = move || {
        let v = current.get();
        if v.host.is_empty() {
            "not set".to_owned()
        } else {
            let mut s = host_port(&v.host, v.port);
            if let Some(prefix) = v.path_prefix.filter(|p| !p.is_empty()) {
                s.push_str(&prefix);
            }
            s
        }
    };
    let (title, enable_label, intro, reach_label) = match kind {
        AddressKind::Cluster => (
            "Cluster Address",
            "Enable a common cluster address for all servers",
            "Address and port of the load balancer or reverse proxy in front of all servers. When enabled, devices use it for OS 12 onboarding and communication, OS 12 app downloads and file transfers to OS 11 devices. Without it, each server's public address (if set) or own address is used.",
            "Devices and other external services reach the cluster at",
        ),
        AddressKind::Enrollment => (
            "OS 12 Device Enrollment Address",
            "Use a separate address for OS 12 device enrollment",
            "Separates device onboarding (EST enrollment) from the management WebSocket, for proxies that cannot make client certificates optional. When off, onboarding uses the cluster address.",
            "Devices reach the enrollment service at",
        ),
    };
    view! {
        <section aria-labelledby=format!("{section}-title")>
            <h2 id=format!("{section}-title")>{title}</h2>
            <p class="help">{intro}</p>
            <div class="field checkbox">
                <input
                    type="checkbox"
                    id=field_id(enabled_field)
                    prop:checked=move || current.get().enabled
                    checked=current.get_untracked().enabled
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        form.edit(|d| {
                            let mut v = kind.get(d);
                            v.enabled = on;
                            kind.set(d, v);
                        });
                    }
                />
                <label for=field_id(enabled_field)>{enable_label}</label>
            </div>
            <div class="field address">
                <span class="label">{reach_label}</span>
                <output id=format!("{section}-value") class:unset=move || current.get().host.is_empty()>
                    {shown}
                </output>
                <button
                    type="button"
                    id=field_id(host_field)
                    aria-describedby=format!("{}-error", field_id(host_field))
                    aria-haspopup="dialog"
                    on:click=move |_| dialog_open.set(true)
                >
                    "Set Address…"
                </button>
                <FieldError form field=host_field />
                <FieldError form field=if kind == AddressKind::Cluster { "cluster_address.port" } else { "enrollment_address.port" } />
                {(kind == AddressKind::Enrollment)
                    .then(|| view! { <FieldError form field="enrollment_address.path_prefix" /> })}
            </div>
            <Show when=move || dialog_open.get()>
                <AddressDialog form kind open=dialog_open />
            </Show>
        </section>
    }
}

#[component]
fn DialogField(
    id: String,
    label: &'static str,
    hint: &'static str,
    value: RwSignal<String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional)] node_ref: NodeRef<leptos::html::Input>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                type="text"
                id=id.clone()
                node_ref=node_ref
                prop:value=move || value.get()
                value=value.get_untracked()
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=format!("{id}-hint {id}-error")
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            <p class="hint" id=format!("{id}-hint")>{hint}</p>
            <p class="field-error" id=format!("{id}-error")>{move || error.get()}</p>
        </div>
    }
}

#[component]
fn AddressDialog(form: Form, kind: AddressKind, open: RwSignal<bool>) -> impl IntoView {
    let start = form.draft.with_untracked(|d| kind.get(d));
    let has_prefix = start.path_prefix.is_some();
    let host = RwSignal::new(start.host);
    let port = RwSignal::new(start.port.to_string());
    let prefix = RwSignal::new(start.path_prefix.unwrap_or_default());
    let host_error = Signal::derive(move || {
        host.with(|h| match h.trim() {
            "" => Some("enter a host name or IP address".to_owned()),
            h => check_host(h, true).err(),
        })
    });
    let port_error = Signal::derive(move || {
        port.with(|p| match parse_number(p) {
            Ok(n) => check_port(n).err(),
            Err(e) => Some(e.to_owned()),
        })
    });
    let prefix_error = Signal::derive(move || {
        has_prefix
            .then(|| prefix.with(|p| check_path_prefix(p.trim()).err()))
            .flatten()
    });
    let invalid = move || {
        host_error.with(Option::is_some)
            || port_error.with(Option::is_some)
            || prefix_error.with(Option::is_some)
    };
    let section = kind.section();
    let close = move || {
        open.set(false);
        focus_field(&format!("{section}.host"));
    };
    let apply = move || {
        let Ok(port) = parse_number(&port.get_untracked()) else {
            return;
        };
        if invalid() {
            return;
        }
        form.edit(|d| {
            let enabled = kind.get(d).enabled;
            let value = AddressValue {
                enabled,
                host: host.get_untracked().trim().to_owned(),
                port,
                path_prefix: has_prefix.then(|| prefix.get_untracked().trim().to_owned()),
            };
            kind.set(d, value);
        });
        close();
    };
    let host_input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = host_input.get() {
            let _ = input.focus();
        }
    });
    let title = match kind {
        AddressKind::Cluster => "Set the cluster address",
        AddressKind::Enrollment => "Set the enrollment address",
    };
    let id = move |suffix: &str| format!("{section}-dialog-{suffix}");
    view! {
        <div class="backdrop">
            <div
                class="dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby=id("title")
                on:keydown=move |ev| match ev.key().as_str() {
                    "Escape" => close(),
                    "Enter" => {
                        ev.prevent_default();
                        apply();
                    }
                    _ => {}
                }
            >
                <h3 id=id("title")>{title}</h3>
                <DialogField
                    id=id("host")
                    label="FQDN or IP"
                    hint="Host name or IPv4/IPv6 address, at most 255 characters"
                    value=host
                    error=host_error
                    node_ref=host_input
                />
                <DialogField
                    id=id("port")
                    label="Port"
                    hint="1 to 65535; default 8443"
                    value=port
                    error=port_error
                />
                {has_prefix
                    .then(|| {
                        view! {
                            <DialogField
                                id=id("prefix")
                                label="Path prefix"
                                hint="Optional, e.g. /device-connector/device/.well-known/est; empty for the standard /.well-known/est"
                                value=prefix
                                error=prefix_error
                            />
                        }
                    })}
                <div class="actions">
                    <button type="button" class="primary" disabled=invalid on:click=move |_| apply()>
                        "OK"
                    </button>
                    <button type="button" on:click=move |_| close()>
                        "Cancel"
                    </button>
                </div>
            </div>
        </div>
    }
}

#[component]
fn DistributedSection(form: Form) -> impl IntoView {
    view! {
        <section aria-labelledby="distributed-title">
            <h2 id="distributed-title">"High Availability / Distributed mode"</h2>
            <p class="help">
                "Standalone servers connected to the same PostgreSQL database work as one installation; they exchange messages through database rows. Takes effect when each server restarts."
            </p>
            <Checkbox
                form
                field="distributed.enabled"
                label="Distributed mode enabled (server restart needed on change)"
                get=|d| d.distributed_enabled()
                set=|d, v| d.distributed = Some(crate::settings::Distributed { enabled: v })
            />
            <p class="help">
                {move || {
                    let n = form.status.with(ServerStatus::alive_servers);
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

#[component]
fn RestartBanner(form: Form) -> impl IntoView {
    move || {
        form.status.with(|s| {
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

#[component]
fn Preview(form: Form) -> impl IntoView {
    let rows = move || {
        let own = form.status.with(|s| s.device_address.clone());
        form.draft.with(|d| {
            RequestKind::ALL
                .into_iter()
                .map(|kind| {
                    let e = device_endpoint(d, &own, kind);
                    view! {
                        <tr>
                            <th scope="row">{kind.label()}</th>
                            <td>
                                <code>{e.target}</code>
                            </td>
                            <td>{e.source.label()}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section aria-labelledby="preview-title" class="preview">
            <h2 id="preview-title">"Addresses devices will use"</h2>
            <p class="help">"Follows the form as you edit it, before saving."</p>
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Request"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"From"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

fn change_list(changes: Vec<Change>) -> impl IntoView {
    changes
        .into_iter()
        .map(|c| {
            view! {
                <li>
                    {format!(
                        "{}: {} → {}",
                        field_label(&c.field),
                        show_value(&c.field, &c.old),
                        show_value(&c.field, &c.new),
                    )}
                </li>
            }
        })
        .collect_view()
}

#[component]
fn ConflictPanel(form: Form) -> impl IntoView {
    let reapply = move |_| {
        let Some(conflict) = form.conflict.get_untracked() else {
            return;
        };
        let mut doc = conflict.current.to_value();
        for change in &conflict.mine {
            set_leaf(&mut doc, &change.field, change.new.clone());
        }
        let merged = serde_json::from_value(doc).unwrap_or_else(|_| conflict.current.clone());
        form.reset_to(conflict.current, Some(conflict.etag));
        form.edit(|d| *d = merged);
        form.conflict.set(None);
        form.notice.set(Some(Notice::Success(
            "Your changes are applied on top of the latest settings; review them and Save.".into(),
        )));
    };
    let discard_mine = move |_| {
        if let Some(conflict) = form.conflict.get_untracked() {
            form.reset_to(conflict.current, Some(conflict.etag));
        }
        form.conflict.set(None);
        form.notice.set(Some(Notice::Success(
            "The form now shows the latest settings.".into(),
        )));
    };
    move || {
        form.conflict.get().map(|c| {
            view! {
                <div class="conflict" role="alert" aria-labelledby="conflict-title">
                    <h2 id="conflict-title">"Someone else saved first"</h2>
                    <p>"They changed:"</p>
                    <ul class="theirs">{change_list(c.theirs)}</ul>
                    <p>"Your unsaved changes:"</p>
                    <ul class="mine">{change_list(c.mine)}</ul>
                    <div class="actions">
                        <button type="button" class="primary" on:click=reapply>
                            "Re-apply my changes"
                        </button>
                        <button type="button" on:click=discard_mine>
                            "Discard mine, show theirs"
                        </button>
                    </div>
                </div>
            }
        })
    }
}

#[component]
fn ConfirmDistributed(form: Form) -> impl IntoView {
    move || {
        form.confirm_distributed.get().then(|| {
            let n = form.status.with_untracked(ServerStatus::alive_servers);
            view! {
                <div class="backdrop">
                    <div
                        class="dialog"
                        role="alertdialog"
                        aria-modal="true"
                        aria-labelledby="confirm-distributed-title"
                        aria-describedby="confirm-distributed-text"
                    >
                        <h3 id="confirm-distributed-title">"Disable distributed mode?"</h3>
                        <p id="confirm-distributed-text">
                            {format!(
                                "{n} servers have a recent heartbeat on this database. Without distributed mode they keep using the same database but stop synchronising with each other."
                            )}
                        </p>
                        <div class="actions">
                            <button type="button" class="danger" on:click=move |_| save(form, true)>
                                "Disable and save"
                            </button>
                            <button
                                type="button"
                                autofocus
                                on:click=move |_| form.confirm_distributed.set(false)
                            >
                                "Cancel"
                            </button>
                        </div>
                    </div>
                </div>
            }
        })
    }
}
