//! What the model's tests share.

use super::{DatabaseKind, FieldError, Installation, ValidationContext};

pub const STANDALONE_SQLITE: ValidationContext = ValidationContext {
    installation: Installation::Standalone,
    database: DatabaseKind::Sqlite,
};
pub const STANDALONE_PG: ValidationContext = ValidationContext {
    installation: Installation::Standalone,
    database: DatabaseKind::Postgres,
};
pub const HA_PG: ValidationContext = ValidationContext {
    installation: Installation::Ha,
    database: DatabaseKind::Postgres,
};

pub fn paths(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}
