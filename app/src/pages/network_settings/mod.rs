//! Administration › Global Configuration › Server Network Settings.

mod address;
mod address_dialog;
mod backup;
mod certificates;
mod conflict;
mod distributed;
mod live;
mod online_check;
mod preview;
#[cfg(all(test, feature = "ssr"))]
mod rendered;
mod save;
mod scan;
mod scheduled_jobs;
mod servers;

use crate::api::{PageData, ServerStatus};
use crate::components::{
    Draft, Loadable, Notice, NoticeArea, ReadOnlyNotice, WithPageData, may_write,
};
use crate::model::{Area, Change, FieldKind, NetworkSettings, ValidationContext};
use address::{AddressKind, AddressSection};
use backup::BackupControls;
use certificates::CertificateSection;
use conflict::{Conflict, ConflictPanel};
use distributed::{DistributedSection, RestartBanner};
use leptos::prelude::*;
use leptos_meta::Title;
use live::{LiveNotice, RemoteChange};
use online_check::OnlineCheckSection;
use preview::Preview;
use save::{ConfirmDistributed, save};
use scan::ScanSection;
use scheduled_jobs::ScheduledJobsSection;
use serde_json::Value;
use servers::{ServerList, UnsynchronisedWarning};

#[component]
pub fn NetworkSettingsPage() -> impl IntoView {
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
        <ReadOnlyNotice
            area=Area::NetworkSettings
            text="You can read these settings but not change them."
        />
        <WithPageData loading="Loading the settings…" show=show_page />
        <CertificateSection />
    }
}

impl Loadable for PageData {
    #[cfg(feature = "ssr")]
    fn read_on_server() -> Result<Self, String> {
        use_context::<std::sync::Arc<dyn crate::PageBackend>>()
            .map(|backend| backend.page_data())
            .ok_or_else(|| "the page has no data source".to_owned())
    }

    #[cfg(feature = "hydrate")]
    fn load_in_browser() -> impl Future<Output = Result<Self, String>> {
        crate::client::get_page_data()
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

/// The state of the form, shared by its parts.
#[derive(Clone, Copy)]
struct Form {
    ctx: ValidationContext,
    /// The settings as last loaded from or saved to the server.
    base: RwSignal<NetworkSettings>,
    etag: RwSignal<String>,
    draft: Draft,
    status: RwSignal<ServerStatus>,
    notice: RwSignal<Option<Notice>>,
    conflict: RwSignal<Option<Conflict>>,
    /// Settings saved elsewhere since the form was loaded, until the form catches up.
    remote: RwSignal<Option<RemoteChange>>,
    saving: RwSignal<bool>,
    confirm_distributed: RwSignal<bool>,
}

impl Form {
    fn new(data: PageData) -> Self {
        let ctx = ValidationContext {
            installation: data.status.installation,
            database: data.status.database,
        };
        let mut draft = Draft::new(data.settings.clone(), ctx);
        draft.read_only = !may_write(Area::NetworkSettings);
        Form {
            ctx,
            draft,
            base: RwSignal::new(data.settings),
            etag: RwSignal::new(data.etag),
            status: RwSignal::new(data.status),
            notice: RwSignal::new(None),
            conflict: RwSignal::new(None),
            remote: RwSignal::new(None),
            saving: RwSignal::new(false),
            confirm_distributed: RwSignal::new(false),
        }
    }

    fn dirty(&self) -> bool {
        self.draft.settings.with(|d| self.base.with(|b| d != b))
    }

    /// Shows the given settings as saved, with nothing edited. With their ETag they are the
    /// latest known version, so a notice of changes made elsewhere is settled.
    fn reset_to(&self, settings: NetworkSettings, etag: Option<String>) {
        self.base.set(settings.clone());
        self.draft.reset(settings);
        if let Some(etag) = etag {
            self.etag.set(etag);
            self.remote.set(None);
        }
    }
}

/// A changed value as the page lists it: "Scan timeout: 6000 → 7000".
fn change_text(change: &Change) -> String {
    let show = |v: &Value| match v {
        Value::Null if change.field.kind() == FieldKind::ReplyPort => "any free port".into(),
        Value::Null => "(none)".into(),
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => "off".into(),
        Value::String(s) if s.is_empty() => "(empty)".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!(
        "{}: {} → {}",
        change.field.label(),
        show(&change.old),
        show(&change.new)
    )
}

#[component]
fn SettingsForm(data: PageData) -> impl IntoView {
    let form = Form::new(data);
    #[cfg(feature = "hydrate")]
    live::follow(form);
    let draft = form.draft;
    let ha = form.ctx.installation == crate::model::Installation::Ha;
    let save_disabled = move || {
        draft.read_only || form.saving.get() || !form.dirty() || !draft.errors.with(Vec::is_empty)
    };
    let discard = move |_| {
        form.reset_to(form.base.get_untracked(), None);
        form.notice.set(None);
    };
    let restore_defaults = move |_| {
        draft.reset(NetworkSettings::defaults(form.ctx.installation));
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
            <RestartBanner status=form.status />
            <UnsynchronisedWarning status=form.status />
            <LiveNotice form />
            <OnlineCheckSection draft />
            <ScheduledJobsSection draft />
            <ScanSection draft />
            <AddressSection draft kind=AddressKind::Cluster />
            <AddressSection draft kind=AddressKind::Enrollment />
            {(!ha).then(|| view! { <DistributedSection draft status=form.status /> })}
            <ServerList status=form.status />
            <Preview draft status=form.status />
            <ConflictPanel form />
            <ConfirmDistributed form />
            <div class="actions">
                <button type="submit" class="primary" disabled=save_disabled>
                    {move || if form.saving.get() { "Saving…" } else { "Save" }}
                </button>
                <button
                    type="button"
                    on:click=discard
                    disabled=move || draft.read_only || !form.dirty()
                >
                    "Discard changes"
                </button>
                <button type="button" on:click=restore_defaults disabled=draft.read_only>
                    "Restore defaults"
                </button>
                <BackupControls form />
                <NoticeArea notice=form.notice />
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;
    use serde_json::json;

    #[test]
    fn changes_read_as_the_page_lists_them() {
        let change = |field, old, new| change_text(&Change { field, old, new });
        assert_eq!(
            change(Field::ScanTimeoutMs, json!(6000), json!(7000)),
            "Scan timeout: 6000 → 7000"
        );
        assert_eq!(
            change(Field::ScanReplyPort, Value::Null, json!(30100)),
            "Scan reply port: any free port → 30100"
        );
        assert_eq!(
            change(Field::ClusterAddressHost, json!(""), json!("lb")),
            "Cluster address: FQDN or IP: (empty) → lb"
        );
        assert_eq!(
            change(Field::DistributedEnabled, json!(true), Value::Null),
            "Distributed mode: on → (none)"
        );
    }
}
