//! The edited copy of the settings that the field widgets read and write.

use crate::model::{
    Field, FieldError, NetworkSettings, ValidationContext, sort_in_page_order, validate,
};
use leptos::prelude::*;
use std::collections::BTreeMap;

/// The settings as the administrator edits them, and every error they have.
#[derive(Clone, Copy)]
pub struct Draft {
    pub settings: RwSignal<NetworkSettings>,
    /// Fields whose text is not a value at all (empty, not a number); the settings keep the last
    /// value.
    unreadable: RwSignal<BTreeMap<Field, String>>,
    /// Errors the server reported for the last save, until the next edit.
    refused: RwSignal<Vec<FieldError>>,
    /// Every current error, one per field, in page order: what is shown and what blocks Save.
    pub errors: Memo<Vec<FieldError>>,
    /// The administrator may read the settings but not change them: every field is disabled.
    pub read_only: bool,
}

impl Draft {
    pub fn new(settings: NetworkSettings, ctx: ValidationContext) -> Self {
        let settings = RwSignal::new(settings);
        let unreadable = RwSignal::new(BTreeMap::<Field, String>::new());
        let refused = RwSignal::new(Vec::<FieldError>::new());
        let errors = Memo::new(move |_| {
            let mut all: Vec<FieldError> = unreadable.with(|m| {
                m.iter()
                    .map(|(field, message)| FieldError::for_field(*field, message.clone()))
                    .collect()
            });
            let later = settings
                .with(|s| validate(s, ctx))
                .into_iter()
                .chain(refused.get());
            for e in later {
                if !all.iter().any(|a| a.field == e.field) {
                    all.push(e);
                }
            }
            sort_in_page_order(&mut all);
            all
        });
        Draft {
            settings,
            unreadable,
            refused,
            errors,
            read_only: false,
        }
    }

    pub fn edit(&self, f: impl FnOnce(&mut NetworkSettings)) {
        self.settings.update(f);
        if !self.refused.with_untracked(Vec::is_empty) {
            self.refused.set(Vec::new());
        }
    }

    /// Starts over from the given settings, without errors from unreadable text or the server.
    pub fn reset(&self, settings: NetworkSettings) {
        self.unreadable.set(BTreeMap::new());
        self.refused.set(Vec::new());
        self.settings.set(settings);
    }

    pub fn set_unreadable(&self, field: Field, message: Option<&str>) {
        self.unreadable.update(|m| match message {
            Some(message) => {
                m.insert(field, message.to_owned());
            }
            None => {
                m.remove(&field);
            }
        });
    }

    pub fn is_unreadable(&self, field: Field) -> bool {
        self.unreadable.with(|m| m.contains_key(&field))
    }

    /// Shows what the server refused until the next edit.
    #[cfg(feature = "hydrate")]
    pub fn refuse(&self, errors: Vec<FieldError>) {
        self.refused.set(errors);
    }

    /// The message shown under a field: unreadable text first, then the shared rules, then what
    /// the server said.
    pub fn error_for(&self, field: Field) -> Option<String> {
        self.errors.with(|v| {
            v.iter()
                .find(|e| e.is_for(field))
                .map(|e| e.message.clone())
        })
    }

    /// Moves the focus to the first field on the page that has an error.
    pub fn focus_first_error(&self) {
        let first = self
            .errors
            .with_untracked(|v| v.iter().find_map(|e| Field::nearest(&e.field)));
        if let Some(field) = first {
            super::focus(field);
        }
    }
}
