//! Administration › Device enrollment: the one-time keys that let devices enroll over EST, and
//! the certificates the device CA issued to them.

mod certificates;
mod keys;
#[cfg(feature = "hydrate")]
mod live;
#[cfg(all(test, feature = "ssr"))]
mod rendered;

use crate::api::{
    CreatedEnrollmentKey, DeviceCertificate, DeviceCertificateList, EnrollmentKey,
    EnrollmentKeyList,
};
use crate::components::{
    ConfirmRemoval, Notice, PageSource, ReadOnlyNotice, may_write, page_resource, with_data,
};
use crate::model::Area;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// What the page shows: both lists, read together.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Enrollment {
    keys: EnrollmentKeyList,
    certificates: DeviceCertificateList,
}

impl PageSource for Enrollment {
    type Query = ();

    #[cfg(feature = "ssr")]
    type Backend = dyn crate::EnrollmentBackend;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::EnrollmentBackend>,
        _: (),
    ) -> crate::BoxFuture<Result<Self, String>> {
        Box::pin(async move {
            Ok(Enrollment {
                keys: backend.keys().await?,
                certificates: backend.device_certificates().await?,
            })
        })
    }

    #[cfg(feature = "hydrate")]
    fn load(_: ()) -> impl Future<Output = Result<Self, String>> + 'static {
        live::load()
    }
}

#[component]
pub fn EnrollmentPage() -> impl IntoView {
    let data = page_resource::<Enrollment>(|| ());
    view! {
        <Title text="Device enrollment" />
        <nav aria-label="Breadcrumb" class="breadcrumb">
            <ol>
                <li>"Administration"</li>
                <li aria-current="page">"Device enrollment"</li>
            </ol>
        </nav>
        <h1>"Device enrollment"</h1>
        <ReadOnlyNotice
            area=Area::Certificates
            text="You can see the enrollment keys and device certificates but not change them."
        />
        {with_data(
            data,
            "enrollment keys and device certificates",
            |data| view! { <EnrollmentView data /> }.into_any(),
        )}
    }
}

/// The state of the page, shared by its parts.
#[derive(Clone, Copy)]
struct EnrollmentState {
    keys: RwSignal<Vec<EnrollmentKey>>,
    certificates: RwSignal<Vec<DeviceCertificate>>,
    /// The key just created, its secret shown until dismissed (never again after).
    created: RwSignal<Option<CreatedEnrollmentKey>>,
    key_notice: RwSignal<Option<Notice>>,
    certificate_notice: RwSignal<Option<Notice>>,
    /// Whether the signed-in administrator may change keys and certificates; without it the page
    /// shows the lists and no action.
    writable: bool,
    revoking_key: RwSignal<Option<EnrollmentKey>>,
    revoking_certificate: RwSignal<Option<DeviceCertificate>>,
    #[cfg(feature = "hydrate")]
    reads: crate::components::Rereads,
}

impl EnrollmentState {
    fn new(data: Enrollment, writable: bool) -> Self {
        EnrollmentState {
            keys: RwSignal::new(data.keys.keys),
            certificates: RwSignal::new(data.certificates.certificates),
            created: RwSignal::new(None),
            key_notice: RwSignal::new(None),
            certificate_notice: RwSignal::new(None),
            writable,
            revoking_key: RwSignal::new(None),
            revoking_certificate: RwSignal::new(None),
            #[cfg(feature = "hydrate")]
            reads: Default::default(),
        }
    }
}

#[component]
fn EnrollmentView(data: Enrollment) -> impl IntoView {
    let state = EnrollmentState::new(data, may_write(Area::Certificates));
    #[cfg(feature = "hydrate")]
    live::follow(state);
    let confirmations = state.writable.then(|| {
        view! {
            <ConfirmRemoval
                pending=state.revoking_key
                id="revoke-key"
                title=|key: &EnrollmentKey| format!("Revoke the enrollment key {}?", key.id)
                text="Devices can no longer enroll with it. Certificates already issued with it stay valid."
                action="Revoke"
                on_confirm=Callback::new(move |key: EnrollmentKey| {
                    #[cfg(feature = "hydrate")]
                    leptos::task::spawn_local(live::revoke_key(state, key));
                    #[cfg(not(feature = "hydrate"))]
                    let _ = key;
                })
            />
            <ConfirmRemoval
                pending=state.revoking_certificate
                id="revoke-device-certificate"
                title=|cert: &DeviceCertificate| {
                    format!("Revoke the certificate {} of {}?", cert.serial, cert.subject)
                }
                text="The device can no longer prove who it is with it, and must enroll again with a new enrollment key. This cannot be undone."
                action="Revoke"
                on_confirm=Callback::new(move |cert: DeviceCertificate| {
                    #[cfg(feature = "hydrate")]
                    leptos::task::spawn_local(live::revoke_certificate(state, cert));
                    #[cfg(not(feature = "hydrate"))]
                    let _ = cert;
                })
            />
        }
    });
    view! {
        <keys::KeysSection state />
        <certificates::CertificatesSection state />
        {confirmations}
    }
    .into_any()
}
