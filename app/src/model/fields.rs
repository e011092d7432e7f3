//! The fields of the settings document, in the order the page shows them.
//!
//! Everything that names a field (rules, errors, the form, change lists) takes a [`Field`], so a
//! misspelt field does not compile. On the wire a field is its dotted path in the document.

use super::types::{JOB_EXPIRATION, NumberRule, ONLINE_CHECK_TIMEOUT, SCAN_TIMEOUT};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One value of the settings document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    OnlineCheckEnabled,
    OnlineCheckResponseTimeoutMs,
    OnlineCheckReplyPort,
    ScheduledJobsNeverExpire,
    ScheduledJobsExpirationMinutes,
    ScanTimeoutMs,
    ScanBroadcastIp,
    ScanReplyPort,
    ClusterAddressEnabled,
    ClusterAddressHost,
    ClusterAddressPort,
    EnrollmentAddressEnabled,
    EnrollmentAddressHost,
    EnrollmentAddressPort,
    EnrollmentAddressPathPrefix,
    DistributedEnabled,
}

/// What kind of value a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Switch,
    Number(NumberRule),
    Port,
    /// A port, or `null` for any free port.
    ReplyPort,
    Text,
}

impl Field {
    /// Every field, in the order of the page (which is also the order of the document).
    pub const ALL: [Field; 16] = [
        Field::OnlineCheckEnabled,
        Field::OnlineCheckResponseTimeoutMs,
        Field::OnlineCheckReplyPort,
        Field::ScheduledJobsNeverExpire,
        Field::ScheduledJobsExpirationMinutes,
        Field::ScanTimeoutMs,
        Field::ScanBroadcastIp,
        Field::ScanReplyPort,
        Field::ClusterAddressEnabled,
        Field::ClusterAddressHost,
        Field::ClusterAddressPort,
        Field::EnrollmentAddressEnabled,
        Field::EnrollmentAddressHost,
        Field::EnrollmentAddressPort,
        Field::EnrollmentAddressPathPrefix,
        Field::DistributedEnabled,
    ];

    /// The dotted path in the document, such as `online_check.response_timeout_ms`.
    pub fn path(self) -> &'static str {
        match self {
            Field::OnlineCheckEnabled => "online_check.enabled",
            Field::OnlineCheckResponseTimeoutMs => "online_check.response_timeout_ms",
            Field::OnlineCheckReplyPort => "online_check.reply_port",
            Field::ScheduledJobsNeverExpire => "scheduled_jobs.never_expire",
            Field::ScheduledJobsExpirationMinutes => "scheduled_jobs.expiration_minutes",
            Field::ScanTimeoutMs => "scan.timeout_ms",
            Field::ScanBroadcastIp => "scan.broadcast_ip",
            Field::ScanReplyPort => "scan.reply_port",
            Field::ClusterAddressEnabled => "cluster_address.enabled",
            Field::ClusterAddressHost => "cluster_address.host",
            Field::ClusterAddressPort => "cluster_address.port",
            Field::EnrollmentAddressEnabled => "enrollment_address.enabled",
            Field::EnrollmentAddressHost => "enrollment_address.host",
            Field::EnrollmentAddressPort => "enrollment_address.port",
            Field::EnrollmentAddressPathPrefix => "enrollment_address.path_prefix",
            Field::DistributedEnabled => "distributed.enabled",
        }
    }

    /// The field's name in messages and change lists.
    pub fn label(self) -> &'static str {
        match self {
            Field::OnlineCheckEnabled => "Online check enabled",
            Field::OnlineCheckResponseTimeoutMs => "Online check response timeout",
            Field::OnlineCheckReplyPort => "Online check reply port",
            Field::ScheduledJobsNeverExpire => "Scheduled jobs never expire",
            Field::ScheduledJobsExpirationMinutes => "Expiration time for scheduled jobs",
            Field::ScanTimeoutMs => "Scan timeout",
            Field::ScanBroadcastIp => "Broadcast IP",
            Field::ScanReplyPort => "Scan reply port",
            Field::ClusterAddressEnabled => "Cluster address enabled",
            Field::ClusterAddressHost => "Cluster address: FQDN or IP",
            Field::ClusterAddressPort => "Cluster address: port",
            Field::EnrollmentAddressEnabled => "Custom enrollment address enabled",
            Field::EnrollmentAddressHost => "Enrollment address: FQDN or IP",
            Field::EnrollmentAddressPort => "Enrollment address: port",
            Field::EnrollmentAddressPathPrefix => "Enrollment address: path prefix",
            Field::DistributedEnabled => "Distributed mode",
        }
    }

    pub fn kind(self) -> FieldKind {
        match self {
            Field::OnlineCheckEnabled
            | Field::ScheduledJobsNeverExpire
            | Field::ClusterAddressEnabled
            | Field::EnrollmentAddressEnabled
            | Field::DistributedEnabled => FieldKind::Switch,
            Field::OnlineCheckResponseTimeoutMs => FieldKind::Number(ONLINE_CHECK_TIMEOUT),
            Field::ScheduledJobsExpirationMinutes => FieldKind::Number(JOB_EXPIRATION),
            Field::ScanTimeoutMs => FieldKind::Number(SCAN_TIMEOUT),
            Field::OnlineCheckReplyPort | Field::ScanReplyPort => FieldKind::ReplyPort,
            Field::ClusterAddressPort | Field::EnrollmentAddressPort => FieldKind::Port,
            Field::ScanBroadcastIp
            | Field::ClusterAddressHost
            | Field::EnrollmentAddressHost
            | Field::EnrollmentAddressPathPrefix => FieldKind::Text,
        }
    }

    pub fn from_path(path: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.path() == path)
    }

    /// The document section the field belongs to, such as `online_check`.
    pub fn section(self) -> &'static str {
        self.path()
            .split_once('.')
            .map_or(self.path(), |(section, _)| section)
    }

    /// The id of the field's element on the page: the path with `-` for `.`.
    pub fn dom_id(self) -> String {
        self.path().replace('.', "-")
    }

    /// What the field must hold, for a value of the wrong JSON type.
    pub fn expected_type(self) -> String {
        match self.kind() {
            FieldKind::Switch => "must be true or false".into(),
            FieldKind::Number(rule) => {
                format!("must be a whole number from {} to {}", rule.min, rule.max)
            }
            FieldKind::Port => "must be a port from 1 to 65535".into(),
            FieldKind::ReplyPort => "must be null (any free port) or a port from 1 to 65535".into(),
            FieldKind::Text => "must be a string".into(),
        }
    }

    /// The field an error path is about, for ordering and focus: the field itself, or the first
    /// field of a section the path names as a whole. `None` for paths outside the document.
    pub fn nearest(path: &str) -> Option<Field> {
        Field::from_path(path).or_else(|| Field::ALL.into_iter().find(|f| f.section() == path))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.path())
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Field::from_path(&path).ok_or_else(|| {
            serde::de::Error::custom(format!("\"{path}\" is not a field of the settings"))
        })
    }
}

/// On the wire a field is one of the dotted paths.
#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for Field {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Field::ALL.iter().map(|field| field.path())))
            .description(Some("A value of the settings document, by its dotted path"))
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for Field {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Installation, NetworkSettings};
    use serde_json::Value;

    #[test]
    fn paths_names_and_ids() {
        for field in Field::ALL {
            assert_eq!(Field::from_path(field.path()), Some(field));
            assert_eq!(field.to_string(), field.path());
        }
        assert_eq!(Field::from_path("surprise"), None);
        assert_eq!(
            Field::OnlineCheckResponseTimeoutMs.dom_id(),
            "online_check-response_timeout_ms"
        );
        assert_eq!(Field::ClusterAddressHost.section(), "cluster_address");
        assert_eq!(Field::nearest("scan"), Some(Field::ScanTimeoutMs));
        assert_eq!(
            Field::nearest("distributed"),
            Some(Field::DistributedEnabled)
        );
        assert_eq!(Field::nearest("scan.colour"), None);
        assert_eq!(Field::nearest(""), None);
    }

    #[test]
    fn on_the_wire_a_field_is_its_path() {
        let json = serde_json::to_string(&Field::ScanReplyPort).unwrap();
        assert_eq!(json, "\"scan.reply_port\"");
        assert_eq!(
            serde_json::from_str::<Field>(&json).unwrap(),
            Field::ScanReplyPort
        );
        assert!(serde_json::from_str::<Field>("\"scan.colour\"").is_err());
    }

    /// The list is the document: every leaf once, in the order the document is written.
    #[test]
    fn the_list_is_every_leaf_of_the_document_in_its_order() {
        let defaults = NetworkSettings::defaults(Installation::Standalone);
        let mut leaves = Vec::new();
        let Value::Object(sections) = defaults.to_value() else {
            panic!("the document is an object");
        };
        for (section, values) in sections {
            for key in values.as_object().expect("sections are objects").keys() {
                leaves.push(format!("{section}.{key}"));
            }
        }
        let mut paths: Vec<String> = Field::ALL.iter().map(|f| f.path().to_owned()).collect();
        paths.sort();
        leaves.sort();
        assert_eq!(paths, leaves);

        // serde writes struct fields in declaration order
        let text = serde_json::to_string(&defaults).unwrap();
        let position = |field: Field| {
            let (section, key) = field.path().split_once('.').unwrap();
            let start = text.find(&format!("\"{section}\":")).unwrap();
            start + text[start..].find(&format!("\"{key}\":")).unwrap()
        };
        for pair in Field::ALL.windows(2) {
            assert!(position(pair[0]) < position(pair[1]), "{pair:?}");
        }
    }
}
