//! Backups of the settings: the export document and how an import reads it, upgrading older
//! formats.

use super::document::{Change, join, leaf, parse_document, set_leaf};
use super::fields::Field;
use super::rules::FieldError;
use super::types::{NetworkSettings, ValidationContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const BACKUP_FORMAT_VERSION: u32 = 2;

/// The export/import document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Backup {
    pub format_version: u32,
    pub settings: Value,
}

/// The result of reading a backup: the settings to store and what the format upgrade altered.
#[derive(Debug, PartialEq)]
pub struct Restore {
    pub settings: NetworkSettings,
    pub upgraded: Vec<Change>,
    /// The backup comes from the other kind of installation (High Availability or standalone),
    /// which has (or lacks) the distributed section: that section stays as it is stored here.
    pub keeps_distributed: bool,
}

/// The section only a standalone installation has.
const DISTRIBUTED: &str = "distributed";

/// Format 1 allowed any online check timeout and defaulted to 100; format 2 has a range and a new
/// default. The rule maps a stored old value onto the new range.
pub fn upgrade_online_check_timeout(old: i64) -> i64 {
    match old {
        ..100 => 100,
        100 => 1_000,
        101..=10_000 => old,
        _ => 10_000,
    }
}

/// Reads a backup of format 1 (upgraded) or 2 (strict). Errors inside the settings are named
/// `settings.<field>`.
pub fn parse_backup(input: &Value, ctx: ValidationContext) -> Result<Restore, Vec<FieldError>> {
    let Value::Object(top) = input else {
        return Err(vec![FieldError::new("", "a backup must be a JSON object")]);
    };
    let mut errors: Vec<FieldError> = top
        .keys()
        .filter(|k| *k != "format_version" && *k != "settings")
        .map(|k| FieldError::new(k.clone(), format!("unknown field \"{k}\"")))
        .collect();
    let version = top.get("format_version");
    let Some(mut settings) = top.get("settings").cloned() else {
        errors.push(FieldError::new("settings", "is missing"));
        return Err(errors);
    };
    let mut upgraded = Vec::new();
    match version.map(|v| (v, v.as_u64())) {
        Some((_, Some(2))) => {}
        Some((_, Some(1))) => {
            let field = Field::OnlineCheckResponseTimeoutMs;
            if let Some(old) = leaf(&settings, field.path()).and_then(Value::as_i64) {
                let new = upgrade_online_check_timeout(old);
                if new != old {
                    set_leaf(&mut settings, field.path(), new.into());
                    upgraded.push(Change {
                        field,
                        old: old.into(),
                        new: new.into(),
                    });
                }
            }
        }
        found => {
            let message = match found {
                None => "is missing: a backup says which format it has (1 or 2)".to_owned(),
                Some((_, Some(n))) => {
                    format!("is {n}: this server reads backup formats 1 and 2")
                }
                Some((v, None)) => format!("must be the number 1 or 2, not {v}"),
            };
            errors.push(FieldError::new("format_version", message));
            return Err(errors);
        }
    }
    // A backup from the other kind of installation restores everything but the distributed
    // section, which the caller keeps as stored; the section is shaped for this installation
    // here so the rest is validated strictly.
    let mut keeps_distributed = false;
    if let Value::Object(map) = &mut settings {
        let has = map.contains_key(DISTRIBUTED);
        let wants = NetworkSettings::defaults(ctx.installation)
            .distributed
            .map(|d| serde_json::to_value(d).expect("serializes"));
        match (has, wants) {
            (true, None) => {
                map.remove(DISTRIBUTED);
                keeps_distributed = true;
            }
            (false, Some(placeholder)) => {
                map.insert(DISTRIBUTED.into(), placeholder);
                keeps_distributed = true;
            }
            _ => {}
        }
    }
    let prefixed = |e: FieldError| FieldError::new(join("settings", &e.field), e.message);
    match parse_document(&settings, ctx) {
        Ok(settings) if errors.is_empty() => Ok(Restore {
            settings,
            upgraded,
            keeps_distributed,
        }),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.extend(e.into_iter().map(prefixed));
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Installation;
    use crate::model::testing::{STANDALONE_SQLITE, paths};
    use serde_json::json;

    #[test]
    fn backups_cross_installation_kinds() {
        use crate::model::testing::HA_PG;
        let standalone = NetworkSettings::defaults(Installation::Standalone).to_value();
        let mut ha = standalone.clone();
        ha.as_object_mut().unwrap().remove("distributed");
        let read = |settings: &Value, ctx| {
            parse_backup(&json!({"format_version": 2, "settings": settings}), ctx).unwrap()
        };
        let restore = read(&ha, STANDALONE_SQLITE);
        assert!(restore.keeps_distributed);
        assert!(restore.settings.distributed.is_some());
        let restore = read(&standalone, HA_PG);
        assert!(restore.keeps_distributed);
        assert!(restore.settings.distributed.is_none());
        assert!(!read(&standalone, STANDALONE_SQLITE).keeps_distributed);
        assert!(!read(&ha, HA_PG).keeps_distributed);
    }

    #[test]
    fn format_one_upgrade_rule() {
        assert_eq!(upgrade_online_check_timeout(-5), 100);
        assert_eq!(upgrade_online_check_timeout(0), 100);
        assert_eq!(upgrade_online_check_timeout(99), 100);
        assert_eq!(upgrade_online_check_timeout(100), 1000);
        assert_eq!(upgrade_online_check_timeout(101), 101);
        assert_eq!(upgrade_online_check_timeout(10_000), 10_000);
        assert_eq!(upgrade_online_check_timeout(10_001), 10_000);
        assert_eq!(upgrade_online_check_timeout(250_000), 10_000);
    }

    #[test]
    fn backups_of_both_formats() {
        let mut settings = NetworkSettings::defaults(Installation::Standalone).to_value();
        settings["online_check"]["response_timeout_ms"] = json!(100);
        let v1 = json!({"format_version": 1, "settings": settings});
        let restore = parse_backup(&v1, STANDALONE_SQLITE).unwrap();
        assert_eq!(restore.settings.online_check.response_timeout_ms, 1000);
        assert_eq!(
            restore.upgraded,
            [Change {
                field: Field::OnlineCheckResponseTimeoutMs,
                old: json!(100),
                new: json!(1000)
            }]
        );
        // the current format keeps 100 and refuses what format 1 would have raised
        let v2 = json!({"format_version": 2, "settings": v1["settings"]});
        let kept = parse_backup(&v2, STANDALONE_SQLITE).unwrap();
        assert_eq!(kept.settings.online_check.response_timeout_ms, 100);
        assert!(kept.upgraded.is_empty());
        let mut v2 = v2;
        v2["settings"]["online_check"]["response_timeout_ms"] = json!(99);
        let errors = parse_backup(&v2, STANDALONE_SQLITE).unwrap_err();
        assert_eq!(
            paths(&errors),
            ["settings.online_check.response_timeout_ms"]
        );
        let v3 = json!({"format_version": 3, "settings": v1["settings"]});
        assert_eq!(
            paths(&parse_backup(&v3, STANDALONE_SQLITE).unwrap_err()),
            ["format_version"]
        );
        // values the rule keeps are not reported
        let mut kept = v1.clone();
        kept["settings"]["online_check"]["response_timeout_ms"] = json!(2500);
        assert!(
            parse_backup(&kept, STANDALONE_SQLITE)
                .unwrap()
                .upgraded
                .is_empty()
        );
    }

    #[test]
    fn backup_messages_name_the_mistake() {
        let settings = NetworkSettings::defaults(Installation::Standalone).to_value();
        let message = |backup: Value| {
            let errors = parse_backup(&backup, STANDALONE_SQLITE).unwrap_err();
            assert_eq!(errors.len(), 1, "{errors:?}");
            errors[0].message.clone()
        };
        assert_eq!(
            message(json!({"format_version": 3, "settings": settings})),
            "is 3: this server reads backup formats 1 and 2"
        );
        assert_eq!(
            message(json!({"format_version": "2", "settings": settings})),
            "must be the number 1 or 2, not \"2\""
        );
        assert!(message(json!({"settings": settings})).starts_with("is missing"));
        assert_eq!(message(json!({"format_version": 2})), "is missing");
        assert_eq!(message(json!([])), "a backup must be a JSON object");
    }
}
