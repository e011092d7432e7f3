//! The dashboard's call.

use super::get_json;
use crate::api::{DASHBOARD_URL, Dashboard, HistoryRange};

pub async fn get_dashboard(range: HistoryRange) -> Result<Dashboard, String> {
    get_json(&format!("{DASHBOARD_URL}?range={}", range.as_str())).await
}
