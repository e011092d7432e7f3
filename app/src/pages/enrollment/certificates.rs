//! The certificates the device CA issued over EST, the devices they name, revoking one.

use super::EnrollmentState;
use crate::api::{DeviceCertificate, DeviceCertificateState};
use crate::components::{ColumnHeads, NoticeArea, RemoveButton};
use crate::pages::show_time;
use leptos::prelude::*;

#[component]
pub(super) fn CertificatesSection(state: EnrollmentState) -> impl IntoView {
    view! {
        <section aria-labelledby="device-certificates-title">
            <h2 id="device-certificates-title">"Device certificates"</h2>
            <p class="help">
                "Client certificates of the device CA, issued when a device enrolled or renewed its certificate. A revoked certificate is listed in "
                <a href=crate::url(crate::api::DEVICE_CRL_URL)>"the device CA's revocation list"</a>
                "."
            </p>
            <NoticeArea notice=state.certificate_notice />
            <CertificateTable state />
        </section>
    }
}

/// Where the devices page shows a device: the list of that device alone, its row highlighted.
fn device_href(id: i64) -> String {
    crate::url(&format!("/devices?id={id}#device-{id}"))
}

#[component]
fn CertificateTable(state: EnrollmentState) -> impl IntoView {
    move || {
        let certificates = state.certificates.get();
        if certificates.is_empty() {
            return view! {
                <p class="empty">"No device has enrolled yet."</p>
            }
            .into_any();
        }
        view! {
            <table class="device-certificates" data-testid="device-certificates">
                <caption class="visually-hidden">"Device certificates"</caption>
                <ColumnHeads
                    names=&[
                        "Serial",
                        "Subject",
                        "Issued",
                        "Expires",
                        "State",
                        "Renews",
                        "Key used",
                        "Device",
                    ]
                    last="Actions"
                />
                <tbody>
                    {certificates
                        .into_iter()
                        .map(|cert| certificate_row(state, cert))
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    }
}

fn certificate_row(state: EnrollmentState, cert: DeviceCertificate) -> impl IntoView {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
    let words = cert.state.as_str();
    let revoked_at = cert
        .revoked_at
        .as_deref()
        .map(|at| view! { <span class="detail">{format!("at {}", show_time(at))}</span> });
    let device = match cert.device_id {
        Some(id) => view! { <a href=device_href(id)>{format!("device {id}")}</a> }.into_any(),
        None => view! { "—" }.into_any(),
    };
    let revoke = (state.writable && cert.state == DeviceCertificateState::Valid).then(|| {
        let label = format!("Revoke certificate {}", cert.serial);
        view! {
            <RemoveButton pending=state.revoking_certificate item=cert.clone() text="Revoke" label />
        }
    });
    view! {
        <tr data-serial=cert.serial.clone()>
            <th scope="row">
                <code class="serial">{cert.serial.clone()}</code>
            </th>
            <td>{cert.subject.clone()}</td>
            <td>{show_time(&cert.issued_at)}</td>
            <td>{show_time(&cert.not_after)}</td>
            <td>
                <span class=format!("badge {words}")>{words}</span>
                {revoked_at}
            </td>
            <td>
                <code class="serial">{dash(&cert.renews)}</code>
            </td>
            <td>
                <code>{dash(&cert.enrollment_key)}</code>
            </td>
            <td>{device}</td>
            <td class="row-actions">{revoke}</td>
        </tr>
    }
}
