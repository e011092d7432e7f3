//! What the discovery pages are rendered with on the server.

use super::{Discovery, devices, jobs, scan};
use app::api::{DevicePage, DeviceQuery, JobList, Scan, ScanList};
use app::{BoxFuture, DiscoveryBackend};
use std::sync::Arc;

/// The discovery area as the pages' data source.
pub struct Pages(pub Arc<Discovery>);

impl DiscoveryBackend for Pages {
    fn devices(&self, query: DeviceQuery) -> BoxFuture<Result<DevicePage, String>> {
        let discovery = self.0.clone();
        Box::pin(async move {
            devices::page(discovery.db(), &query)
                .await
                .map_err(|e| failed("devices", e))
        })
    }

    fn scans(&self) -> BoxFuture<Result<ScanList, String>> {
        let discovery = self.0.clone();
        Box::pin(async move {
            scan::list(discovery.db())
                .await
                .map_err(|e| failed("scans", e))
        })
    }

    fn scan(&self, id: String) -> BoxFuture<Result<Option<Scan>, String>> {
        let discovery = self.0.clone();
        Box::pin(async move {
            discovery
                .stored_scan(&id)
                .await
                .map_err(|e| failed("scan", format!("{e:#}")))
        })
    }

    fn jobs(&self) -> BoxFuture<Result<JobList, String>> {
        let discovery = self.0.clone();
        Box::pin(async move {
            jobs::list(discovery.db())
                .await
                .map_err(|e| failed("jobs", e))
        })
    }
}

/// The page says that reading failed; the details go to the log, not to the browser.
fn failed(what: &str, e: impl std::fmt::Display) -> String {
    tracing::error!(error = %e, "reading the {what} for a page");
    format!("the {what} could not be read")
}
