//! The rules of enrollment keys, checked as an administrator types and again by the server.

use super::FieldError;
use crate::api::NewEnrollmentKey;

pub const ENROLLMENT_KEY_MAX_USES: u32 = 100_000;
/// A key is for onboarding a batch of devices, not a standing credential: at most 30 days.
pub const ENROLLMENT_KEY_MAX_MINUTES: u32 = 30 * 24 * 60;
pub const ENROLLMENT_NOTE_MAX_LEN: usize = 200;

pub fn validate_enrollment_key(key: &NewEnrollmentKey) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if key.uses == 0 || key.uses > ENROLLMENT_KEY_MAX_USES {
        errors.push(FieldError::new(
            "uses",
            format!("a key authorises between 1 and {ENROLLMENT_KEY_MAX_USES} enrollments"),
        ));
    }
    if key.expires_in_minutes == 0 || key.expires_in_minutes > ENROLLMENT_KEY_MAX_MINUTES {
        errors.push(FieldError::new(
            "expires_in_minutes",
            format!(
                "a key is valid between 1 minute and {} days",
                ENROLLMENT_KEY_MAX_MINUTES / (24 * 60)
            ),
        ));
    }
    if key.note.chars().count() > ENROLLMENT_NOTE_MAX_LEN {
        errors.push(FieldError::new(
            "note",
            format!("a note has at most {ENROLLMENT_NOTE_MAX_LEN} characters"),
        ));
    }
    if key.note.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "note",
            "a note cannot hold control characters",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uses: u32, minutes: u32, note: &str) -> NewEnrollmentKey {
        NewEnrollmentKey {
            uses,
            expires_in_minutes: minutes,
            note: note.into(),
        }
    }

    #[test]
    fn limits() {
        assert!(validate_enrollment_key(&key(1, 60, "batch 7")).is_ok());
        let fields = |k| {
            validate_enrollment_key(&k)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(key(0, 60, "")), ["uses"]);
        assert_eq!(fields(key(1, 0, "")), ["expires_in_minutes"]);
        assert_eq!(fields(key(1, 60, &"x".repeat(201))), ["note"]);
        assert_eq!(fields(key(1, 60, "a\nb")), ["note"]);
    }
}
