//! Administration › Certificates: the web certificates servers present, where they come from
//! (generated or imported CAs, certificates they signed), which server presents which, and their
//! exports.

mod dialogs;
mod forms;
mod hostnames;
mod import;
#[cfg(feature = "hydrate")]
mod live;
#[cfg(all(test, feature = "ssr"))]
mod rendered;

use crate::api::{
    Expiry, ExportFormat, ServerRef, WebCertificate, WebCertificates, web_certificate_action_url,
};
use crate::components::{
    ColumnHeads, ConfirmRemoval, Notice, NoticeArea, PageSource, ReadOnlyNotice, RemoveButton,
    may_write, page_resource, with_data,
};
use crate::model::Area;
use dialogs::{AssignDialog, P12Dialog};
use forms::{GenerateForm, SignedForm};
use import::ImportForm;
use leptos::prelude::*;
use leptos_meta::Title;

impl PageSource for WebCertificates {
    type Query = ();

    #[cfg(feature = "ssr")]
    type Backend = dyn crate::CertificatesBackend;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::CertificatesBackend>,
        _: (),
    ) -> crate::BoxFuture<Result<Self, String>> {
        backend.certificates()
    }

    #[cfg(feature = "hydrate")]
    fn load(_: ()) -> impl Future<Output = Result<Self, String>> + 'static {
        crate::client::certificates::get_certificates()
    }
}

#[component]
pub fn CertificatesPage() -> impl IntoView {
    let data = page_resource::<WebCertificates>(|| ());
    view! {
        <Title text="Certificates" />
        <nav aria-label="Breadcrumb" class="breadcrumb">
            <ol>
                <li>"Administration"</li>
                <li aria-current="page">"Certificates"</li>
            </ol>
        </nav>
        <h1>"Certificates"</h1>
        <ReadOnlyNotice
            area=Area::Certificates
            text="You can see the certificates but not change them."
        />
        {with_data(data, "certificates", |data| view! { <Certificates data /> }.into_any())}
    }
}

/// The state of the page, shared by its parts.
#[derive(Clone, Copy)]
struct CertificatesState {
    list: RwSignal<WebCertificates>,
    notice: RwSignal<Option<Notice>>,
    /// Whether the signed-in administrator may change certificates; without it the page shows
    /// the list and the certificates' exports, and no other action.
    writable: bool,
    deleting: RwSignal<Option<WebCertificate>>,
    /// The certificate whose servers are being chosen.
    assigning: RwSignal<Option<WebCertificate>>,
    /// The certificate whose PKCS#12 export's password is being entered.
    exporting: RwSignal<Option<WebCertificate>>,
    /// One action on the list at a time (renew, delete).
    busy: RwSignal<bool>,
    #[cfg(feature = "hydrate")]
    reads: crate::components::Rereads,
}

impl CertificatesState {
    fn new(list: WebCertificates, writable: bool) -> Self {
        CertificatesState {
            list: RwSignal::new(list),
            notice: RwSignal::new(None),
            writable,
            deleting: RwSignal::new(None),
            assigning: RwSignal::new(None),
            exporting: RwSignal::new(None),
            busy: RwSignal::new(false),
            #[cfg(feature = "hydrate")]
            reads: Default::default(),
        }
    }

    /// The CAs whose key is here: those that can sign.
    fn signing_cas(&self) -> Vec<WebCertificate> {
        self.list.with(|list| {
            list.certificates
                .iter()
                .filter(|c| c.is_ca && c.has_key)
                .cloned()
                .collect()
        })
    }
}

#[component]
fn Certificates(data: WebCertificates) -> impl IntoView {
    let state = CertificatesState::new(data, may_write(Area::Certificates));
    #[cfg(feature = "hydrate")]
    live::follow(state);
    let actions = state.writable.then(|| {
        view! {
            <SignedForm state />
            <GenerateForm state />
            <ImportForm state />
            <AssignDialog state />
            <P12Dialog state />
            <ConfirmRemoval
                pending=state.deleting
                id="delete-certificate"
                title=|cert: &WebCertificate| format!("Delete “{}”?", cert.subject)
                text="It and its private key are removed for good. A certificate that is assigned to a server, or that issued others, is not deleted."
                action="Delete"
                on_confirm=Callback::new(move |cert: WebCertificate| {
                    #[cfg(feature = "hydrate")]
                    leptos::task::spawn_local(live::delete(state, cert));
                    #[cfg(not(feature = "hydrate"))]
                    let _ = cert;
                })
            />
        }
    });
    view! {
        <CertificateList state />
        {actions}
    }
    .into_any()
}

#[component]
fn CertificateList(state: CertificatesState) -> impl IntoView {
    view! {
        <section aria-labelledby="web-certificates-title">
            <h2 id="web-certificates-title">"Web certificates"</h2>
            <p class="help">
                "What servers present on the HTTPS port, and the CAs that signed them. Certificates are named by their SHA-256 fingerprint."
            </p>
            <table class="certificates" data-testid="certificates">
                <caption class="visually-hidden">"Web certificates"</caption>
                <ColumnHeads
                    names=&["Subject", "Names", "Validity", "Key", "Fingerprints", "Assigned to"]
                    last="Actions"
                />
                <tbody>
                    {move || {
                        state
                            .list
                            .get()
                            .certificates
                            .into_iter()
                            .map(|cert| certificate_row(state, cert))
                            .collect_view()
                    }}
                </tbody>
            </table>
            <NoticeArea notice=state.notice />
        </section>
    }
    .into_any()
}

/// The common name of a subject (`CN=Pharos Web Root CA, O=…` → `Pharos Web Root CA`), or the
/// subject as it is.
fn common_name(subject: &str) -> &str {
    subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .unwrap_or(subject)
}

fn kind_badge(cert: &WebCertificate) -> impl IntoView + use<> {
    let (class, text) = match (cert.is_ca, cert.self_signed) {
        (true, true) => ("badge ca", "root CA"),
        (true, false) => ("badge ca", "intermediate CA"),
        (false, _) => ("badge", "server"),
    };
    view! { <span class=class>{text}</span> }
}

/// How long it is valid for, with a warning under 30 days and the expired in red.
fn expiry_text(cert: &WebCertificate) -> (&'static str, String) {
    let days = cert.days_left;
    match cert.expiry {
        Expiry::Expired => ("expiry expired", "expired".to_owned()),
        Expiry::NotYet => ("expiry not-yet", "not valid yet".to_owned()),
        Expiry::Soon => (
            "expiry soon",
            format!(
                "{days} day{} left: renew it soon",
                if days == 1 { "" } else { "s" }
            ),
        ),
        Expiry::Valid => ("expiry valid", format!("{days} days left")),
    }
}

fn assigned_text(cert: &WebCertificate) -> String {
    let servers: Vec<&str> = cert
        .assigned_to
        .iter()
        .map(|s: &ServerRef| s.name.as_str())
        .collect();
    if cert.assigned_to_all {
        "all servers".to_owned()
    } else if servers.is_empty() {
        "—".to_owned()
    } else {
        servers.join(", ")
    }
}

fn export_url(fingerprint: &str, format: ExportFormat) -> String {
    let format = match format {
        ExportFormat::Pem => "pem",
        ExportFormat::Der => "der",
        ExportFormat::Chain => "chain",
    };
    crate::url(&format!(
        "{}?format={format}",
        web_certificate_action_url(fingerprint, "export")
    ))
}

fn certificate_row(state: CertificatesState, cert: WebCertificate) -> impl IntoView {
    let name = common_name(&cert.subject).to_owned();
    let (expiry_class, expiry) = expiry_text(&cert);
    let sans = if cert.sans.is_empty() {
        view! { "—" }.into_any()
    } else {
        view! {
            <ul class="sans">
                {cert.sans.iter().map(|san| view! { <li>{san.clone()}</li> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let key = if cert.has_key {
        "key present"
    } else {
        "no key"
    };
    let issuer = if cert.self_signed {
        "self-signed".to_owned()
    } else {
        format!("issued by {}", common_name(&cert.issuer))
    };
    let fingerprint = cert.fingerprint_sha256.clone();
    let row_key = fingerprint.clone();
    let fingerprint_sha1 = cert.fingerprint_sha1.clone();
    let subject = cert.subject.clone();
    let badge = kind_badge(&cert);
    let from = format!("from {}", super::show_time(&cert.not_before));
    let until = format!("until {}", super::show_time(&cert.not_after));
    let algorithm = cert.key_algorithm.clone();
    let assigned = assigned_text(&cert);
    let actions = actions(state, cert, name.clone());
    view! {
        <tr data-fingerprint=row_key class=expiry_class>
            <th scope="row">
                <span class="subject">{name}</span>
                " "
                {badge}
                <span class="detail">{subject}</span>
                <span class="detail">{issuer}</span>
            </th>
            <td>{sans}</td>
            <td>
                <span class="days-left">{expiry}</span>
                <span class="detail">{from}</span>
                <span class="detail">{until}</span>
            </td>
            <td>
                {algorithm}
                <span class="detail">{key}</span>
            </td>
            <td class="fingerprints">
                <span class="detail">"SHA-256"</span>
                <code class="fingerprint sha256">{fingerprint}</code>
                <span class="detail">"SHA-1"</span>
                <code class="fingerprint sha1">{fingerprint_sha1}</code>
            </td>
            <td class="assigned">{assigned}</td>
            <td class="row-actions">{actions}</td>
        </tr>
    }
}

/// The exports every reader may download, and the changes only a writer sees.
fn actions(state: CertificatesState, cert: WebCertificate, name: String) -> impl IntoView {
    let fp = cert.fingerprint_sha256.clone();
    let downloads = view! {
        <a href=export_url(&fp, ExportFormat::Pem) download aria-label=format!("{name}: PEM")>
            "PEM"
        </a>
        " "
        <a href=export_url(&fp, ExportFormat::Der) download aria-label=format!("{name}: DER")>
            "DER"
        </a>
        " "
        <a href=export_url(&fp, ExportFormat::Chain) download aria-label=format!("{name}: chain")>
            "Chain"
        </a>
    };
    let changes = state.writable.then(|| {
        let busy = move || state.busy.get();
        let assign = {
            let cert = cert.clone();
            move |_| state.assigning.set(Some(cert.clone()))
        };
        let export = {
            let cert = cert.clone();
            move |_| state.exporting.set(Some(cert.clone()))
        };
        let renew = {
            let cert = cert.clone();
            move |_| {
                #[cfg(feature = "hydrate")]
                leptos::task::spawn_local(live::renew(state, cert.clone()));
                #[cfg(not(feature = "hydrate"))]
                let _ = &cert;
            }
        };
        let assignable = cert.has_key && !cert.is_ca;
        view! {
            {assignable.then(|| view! {
                <button
                    type="button"
                    class="small"
                    aria-label=format!("Assign {name}")
                    aria-haspopup="dialog"
                    on:click=assign
                >
                    "Assign…"
                </button>
            })}
            <button
                type="button"
                class="small"
                aria-label=format!("Renew {name}")
                disabled=busy
                on:click=renew
            >
                "Renew"
            </button>
            {cert.has_key.then(|| view! {
                <button
                    type="button"
                    class="small"
                    aria-label=format!("Export {name} with its key (PKCS#12)")
                    aria-haspopup="dialog"
                    on:click=export
                >
                    "PKCS#12…"
                </button>
            })}
            <RemoveButton
                pending=state.deleting
                item=cert
                text="Delete"
                label=format!("Delete {name}")
            />
        }
    });
    view! {
        <span class="downloads">{downloads}</span>
        {changes}
    }
}

/// A certificate as the notices name it: its common name and the start of its fingerprint.
fn short_name(cert: &WebCertificate) -> String {
    format!(
        "{} ({}…)",
        common_name(&cert.subject),
        cert.fingerprint_sha256.chars().take(12).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_of_subjects() {
        assert_eq!(common_name("CN=Pharos Web Root CA"), "Pharos Web Root CA");
        assert_eq!(common_name("O=Example, CN=lb.example"), "lb.example");
        assert_eq!(common_name("O=Example"), "O=Example");
    }
}
