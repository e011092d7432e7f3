//! Settings documents from outside (API requests, backups), where every problem is reported at
//! once and by field, and the differences between two documents.

use super::fields::Field;
use super::rules::{FieldError, HA_HAS_NO_DISTRIBUTED, sort_in_page_order, validate};
use super::types::{NetworkSettings, ValidationContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Reads a whole document sent by a client: unknown, missing and mistyped fields are reported
/// together with every broken rule, in the order of the page.
pub fn parse_document(
    input: &Value,
    ctx: ValidationContext,
) -> Result<NetworkSettings, Vec<FieldError>> {
    let template = NetworkSettings::defaults(ctx.installation).to_value();
    let mut errors = Vec::new();
    let mut repaired = input.clone();
    conform_keys(&mut repaired, &template, "", &mut errors);

    // Each pass finds the first mistyped field, reports it and puts the default in its place, so
    // one request lists every mistyped field.
    let mut typed = None;
    for _ in 0..=Field::ALL.len() {
        match serde_path_to_error::deserialize::<_, NetworkSettings>(&repaired) {
            Ok(settings) => {
                typed = Some(settings);
                break;
            }
            Err(err) => {
                let path = err.path().to_string();
                let repaired_field = match (Field::from_path(&path), leaf(&template, &path)) {
                    (Some(field), Some(default)) => {
                        set_leaf(&mut repaired, &path, default.clone()).then_some(field)
                    }
                    _ => None,
                };
                match repaired_field {
                    Some(field) => errors.push(FieldError::for_field(field, field.expected_type())),
                    None => {
                        errors.push(FieldError::new(path, err.inner().to_string()));
                        break;
                    }
                }
            }
        }
    }
    let Some(settings) = typed else {
        sort_in_page_order(&mut errors);
        return Err(errors);
    };
    for e in validate(&settings, ctx) {
        if !errors.iter().any(|r| r.field == e.field) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(settings)
    } else {
        sort_in_page_order(&mut errors);
        Err(errors)
    }
}

/// Reports unknown and missing keys against the template and makes `value` match its shape.
fn conform_keys(value: &mut Value, template: &Value, prefix: &str, errors: &mut Vec<FieldError>) {
    let Value::Object(expected) = template else {
        return;
    };
    let Value::Object(actual) = value else {
        let what = if prefix.is_empty() {
            "the document"
        } else {
            prefix
        };
        errors.push(FieldError::new(
            prefix,
            format!("{what} must be a JSON object"),
        ));
        *value = template.clone();
        return;
    };
    let unknown: Vec<String> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .cloned()
        .collect();
    for key in unknown {
        let path = join(prefix, &key);
        let message = if path == Field::DistributedEnabled.section() {
            HA_HAS_NO_DISTRIBUTED.to_owned()
        } else {
            format!("unknown field \"{key}\"")
        };
        errors.push(FieldError::new(path, message));
        actual.remove(&key);
    }
    for (key, sub_template) in expected {
        let path = join(prefix, key);
        match actual.get_mut(key) {
            Some(sub) => conform_keys(sub, sub_template, &path, errors),
            None => {
                errors.push(FieldError::new(path, "is missing"));
                actual.insert(key.clone(), sub_template.clone());
            }
        }
    }
}

/// `prefix.key`, or `key` at the top.
pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

pub(super) fn leaf<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

/// Sets the value at a dotted path whose parents exist; false if they do not.
pub(super) fn set_leaf(v: &mut Value, path: &str, new: Value) -> bool {
    let mut cur = v;
    for key in path.split('.') {
        match cur.get_mut(key) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    *cur = new;
    true
}

/// One changed value between two documents.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Change {
    pub field: Field,
    pub old: Value,
    pub new: Value,
}

/// Field-by-field differences, in page order; a field present on one side only (the distributed
/// section) counts as changed from or to null.
pub fn changes(old: &NetworkSettings, new: &NetworkSettings) -> Vec<Change> {
    let (old, new) = (old.to_value(), new.to_value());
    Field::ALL
        .into_iter()
        .filter_map(|field| {
            let o = leaf(&old, field.path()).cloned().unwrap_or(Value::Null);
            let n = leaf(&new, field.path()).cloned().unwrap_or(Value::Null);
            (o != n).then_some(Change {
                field,
                old: o,
                new: n,
            })
        })
        .collect()
}

/// The settings with the changes made on top of them; changes of fields these settings do not
/// have (the distributed section) are left out. `None` if a new value has the wrong type.
pub fn apply_changes(settings: &NetworkSettings, changes: &[Change]) -> Option<NetworkSettings> {
    let mut doc = settings.to_value();
    for change in changes {
        set_leaf(&mut doc, change.field.path(), change.new.clone());
    }
    serde_json::from_value(doc).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Installation;
    use crate::model::testing::{HA_PG, STANDALONE_SQLITE, paths};
    use serde_json::json;

    #[test]
    fn parse_reports_every_problem_by_field() {
        let mut doc = NetworkSettings::defaults(Installation::Standalone).to_value();
        doc["online_check"]["response_timeout_ms"] = json!(99);
        doc["online_check"]["reply_port"] = json!("x");
        doc["scan"]["timeout_ms"] = json!(-4);
        doc["scan"]["broadcast_ip"] = json!("nope");
        doc["cluster_address"]["colour"] = json!("red");
        doc["surprise"] = json!(1);
        doc["enrollment_address"]
            .as_object_mut()
            .unwrap()
            .remove("port");
        let errors = parse_document(&doc, STANDALONE_SQLITE).unwrap_err();
        assert_eq!(
            paths(&errors),
            [
                "online_check.response_timeout_ms",
                "online_check.reply_port",
                "scan.timeout_ms",
                "scan.broadcast_ip",
                "enrollment_address.port",
                "surprise",
                "cluster_address.colour",
            ]
        );
        let unknown = errors.iter().find(|e| e.field == "surprise").unwrap();
        assert!(unknown.message.contains("surprise"));
        let reply = errors
            .iter()
            .find(|e| e.is_for(Field::OnlineCheckReplyPort))
            .unwrap();
        assert!(reply.message.contains("any free port"));
        let timeout = errors
            .iter()
            .find(|e| e.is_for(Field::ScanTimeoutMs))
            .unwrap();
        assert_eq!(timeout.message, "must be a whole number from 100 to 60000");
    }

    /// Regression: the errors came out in the alphabetical order of their paths (cluster_address
    /// before online_check), and so did the field a refused save focused.
    #[test]
    fn errors_follow_the_order_of_the_page() {
        let mut doc = NetworkSettings::defaults(Installation::Standalone).to_value();
        doc["online_check"]["response_timeout_ms"] = json!(99);
        doc["cluster_address"]["enabled"] = json!(true);
        doc["scan"]["broadcast_ip"] = json!(7);
        let errors = parse_document(&doc, STANDALONE_SQLITE).unwrap_err();
        assert_eq!(
            paths(&errors),
            [
                "online_check.response_timeout_ms",
                "scan.broadcast_ip",
                "cluster_address.host"
            ]
        );
    }

    #[test]
    fn parse_refuses_non_objects_and_distributed_on_ha() {
        assert_eq!(
            paths(&parse_document(&json!([1, 2]), STANDALONE_SQLITE).unwrap_err()),
            [""]
        );
        let mut doc = NetworkSettings::defaults(Installation::Standalone).to_value();
        doc["scan"] = json!(5);
        assert_eq!(
            paths(&parse_document(&doc, STANDALONE_SQLITE).unwrap_err()),
            ["scan"]
        );
        let doc = NetworkSettings::defaults(Installation::Standalone).to_value();
        let errors = parse_document(&doc, HA_PG).unwrap_err();
        assert_eq!(paths(&errors), ["distributed"]);
        assert!(errors[0].message.contains("High Availability"));
        let ok = NetworkSettings::defaults(Installation::Ha).to_value();
        assert_eq!(
            parse_document(&ok, HA_PG).unwrap(),
            NetworkSettings::defaults(Installation::Ha)
        );
    }

    #[test]
    fn changes_in_page_order_and_back() {
        let a = NetworkSettings::defaults(Installation::Standalone);
        let mut b = a.clone();
        b.scan.timeout_ms = 7000;
        b.cluster_address.host = "lb.example.com".into();
        b.online_check.reply_port = Some(30_100);
        let c = changes(&a, &b);
        assert_eq!(
            c.iter().map(|c| c.field).collect::<Vec<_>>(),
            [
                Field::OnlineCheckReplyPort,
                Field::ScanTimeoutMs,
                Field::ClusterAddressHost
            ]
        );
        assert_eq!(
            (c[1].old.clone(), c[1].new.clone()),
            (json!(6000), json!(7000))
        );
        assert_eq!(apply_changes(&a, &c), Some(b));
        assert!(changes(&a, &a).is_empty());

        // the distributed section exists on one side only
        let ha = NetworkSettings::defaults(Installation::Ha);
        assert_eq!(
            changes(&a, &ha),
            [Change {
                field: Field::DistributedEnabled,
                old: json!(false),
                new: Value::Null
            }]
        );
        let on = Change {
            field: Field::DistributedEnabled,
            old: json!(false),
            new: json!(true),
        };
        assert_eq!(
            apply_changes(&ha, std::slice::from_ref(&on)),
            Some(ha.clone())
        );
        assert!(apply_changes(&a, &[on]).unwrap().distributed_enabled());
        let wrong = Change {
            field: Field::ScanTimeoutMs,
            old: json!(6000),
            new: json!("soon"),
        };
        assert_eq!(apply_changes(&a, &[wrong]), None);
    }

    /// On the wire a change names its field by path, as before the field list was typed.
    #[test]
    fn a_change_is_written_with_its_path() {
        let change = Change {
            field: Field::OnlineCheckResponseTimeoutMs,
            old: json!(100),
            new: json!(1000),
        };
        let json = serde_json::to_value(&change).unwrap();
        assert_eq!(
            json,
            json!({"field": "online_check.response_timeout_ms", "old": 100, "new": 1000})
        );
        assert_eq!(serde_json::from_value::<Change>(json).unwrap(), change);
    }
}
