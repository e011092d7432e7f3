//! The certificates page's list and the settings page's cluster check, read while the server
//! renders them.

use super::Tls;
use app::api::{ClusterCheck, WebCertificates};
use app::{BoxFuture, CertificatesBackend};
use std::sync::Arc;

pub struct Pages(pub Arc<Tls>);

fn text<E: std::fmt::Display>(e: E) -> String {
    tracing::error!(error = %e, "reading a page's data failed");
    "the data could not be read".to_owned()
}

impl CertificatesBackend for Pages {
    fn certificates(&self) -> BoxFuture<Result<WebCertificates, String>> {
        let tls = self.0.clone();
        Box::pin(async move { tls.list().await.map_err(text) })
    }

    fn cluster_check(&self) -> BoxFuture<Result<ClusterCheck, String>> {
        let tls = self.0.clone();
        Box::pin(async move { tls.check().await.map_err(text) })
    }
}
