//! The enrollment page's lists, read while the server renders it.

use super::Est;
use app::api::{DeviceCertificateList, EnrollmentKeyList};
use app::{BoxFuture, EnrollmentBackend};
use std::sync::Arc;

pub struct Pages(pub Arc<Est>);

fn text<E: std::fmt::Display>(e: E) -> String {
    tracing::error!(error = %e, "reading the enrollment page's data failed");
    "the data could not be read".to_owned()
}

impl EnrollmentBackend for Pages {
    fn keys(&self) -> BoxFuture<Result<EnrollmentKeyList, String>> {
        let est = self.0.clone();
        Box::pin(async move { est.keys().await.map_err(text) })
    }

    fn device_certificates(&self) -> BoxFuture<Result<DeviceCertificateList, String>> {
        let est = self.0.clone();
        Box::pin(async move { est.device_certificates().await.map_err(text) })
    }
}
