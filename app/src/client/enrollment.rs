//! Calls of the device enrollment page: enrollment keys and the device CA's certificates.

use super::request;
use super::{Refusal, get_json, send, send_json};
use crate::api::{
    CreatedEnrollmentKey, DEVICE_CERTIFICATES_URL, DeviceCertificate, DeviceCertificateList,
    ENROLLMENT_KEYS_URL, EnrollmentKeyList, NewEnrollmentKey,
};

pub async fn get_keys() -> Result<EnrollmentKeyList, String> {
    get_json(ENROLLMENT_KEYS_URL).await
}

pub async fn create_key(key: &NewEnrollmentKey) -> Result<CreatedEnrollmentKey, Refusal> {
    send_json(request::post(ENROLLMENT_KEYS_URL).json(key)).await
}

pub async fn revoke_key(id: &str) -> Result<(), Refusal> {
    send(request::delete(&format!("{ENROLLMENT_KEYS_URL}/{id}")).build())
        .await
        .map(drop)
}

pub async fn get_certificates() -> Result<DeviceCertificateList, String> {
    get_json(DEVICE_CERTIFICATES_URL).await
}

/// Revokes a device's certificate; the answer is the certificate as it now is.
pub async fn revoke_certificate(serial: &str) -> Result<DeviceCertificate, Refusal> {
    let url = format!("{DEVICE_CERTIFICATES_URL}/{serial}/revoke");
    send_json(request::post(&url).build()).await
}
