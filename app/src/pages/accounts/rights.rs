//! Rights in the page: the grants of a user or group as a matrix of areas and accesses, and
//! rights in words.

use crate::model::{Access, Area, Effect, Grant, Rights};
use leptos::prelude::*;

/// The effect granted for `access` to `area`, if any.
pub(super) fn effect_of(grants: &[Grant], area: Area, access: Access) -> Option<Effect> {
    grants
        .iter()
        .find(|g| g.area == area && g.access == access)
        .map(|g| g.effect)
}

/// Sets (or with `None` removes) the grant for `access` to `area`; one grant per cell, in order.
pub(super) fn set_effect(
    grants: &mut Vec<Grant>,
    area: Area,
    access: Access,
    effect: Option<Effect>,
) {
    grants.retain(|g| !(g.area == area && g.access == access));
    if let Some(effect) = effect {
        grants.push(Grant {
            area,
            access,
            effect,
        });
    }
    grants.sort();
}

fn effect_value(effect: Option<Effect>) -> &'static str {
    match effect {
        None => "",
        Some(Effect::Allow) => "allow",
        Some(Effect::Deny) => "deny",
    }
}

fn parse_effect(value: &str) -> Option<Effect> {
    match value {
        "allow" => Some(Effect::Allow),
        "deny" => Some(Effect::Deny),
        _ => None,
    }
}

/// What an account may do, in a line: `Write: Jobs · Read: Devices and scans, Audit`.
pub(super) fn rights_text(rights: &Rights) -> String {
    if rights.superuser {
        return "All rights (cannot be restricted)".to_owned();
    }
    let labels = |areas: Vec<Area>| {
        areas
            .iter()
            .map(|a| a.label())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let write: Vec<Area> = Area::ALL
        .into_iter()
        .filter(|&a| rights.can_write(a))
        .collect();
    let read: Vec<Area> = Area::ALL
        .into_iter()
        .filter(|&a| rights.can_read(a) && !rights.can_write(a))
        .collect();
    let mut parts = Vec::new();
    if !write.is_empty() {
        parts.push(format!("Write: {}", labels(write)));
    }
    if !read.is_empty() {
        parts.push(format!("Read: {}", labels(read)));
    }
    if parts.is_empty() {
        "No rights".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// A group's own grants in a line: `Jobs: read allowed, write denied; Audit: read allowed`.
pub(super) fn grants_text(grants: &[Grant]) -> String {
    let parts: Vec<String> = Area::ALL
        .into_iter()
        .filter_map(|area| {
            let cells: Vec<String> = [(Access::Read, "read"), (Access::Write, "write")]
                .into_iter()
                .filter_map(|(access, name)| {
                    effect_of(grants, area, access).map(|effect| match effect {
                        Effect::Allow => format!("{name} allowed"),
                        Effect::Deny => format!("{name} denied"),
                    })
                })
                .collect();
            (!cells.is_empty()).then(|| format!("{}: {}", area.label(), cells.join(", ")))
        })
        .collect();
    if parts.is_empty() {
        "None".to_owned()
    } else {
        parts.join("; ")
    }
}

/// The grants of a user or group: one row per area, a choice of —, Allow or Deny for reading
/// and for writing it.
#[component]
pub(super) fn RightsMatrix(
    /// Prefixes the ids of its selects.
    id: String,
    grants: RwSignal<Vec<Grant>>,
    #[prop(into)] disabled: Signal<bool>,
) -> impl IntoView {
    let cell = move |area: Area, access: Access| {
        let current = effect_value(grants.with_untracked(|g| effect_of(g, area, access)));
        let (access_name, access_label) = match access {
            Access::Read => ("read", "Read"),
            Access::Write => ("write", "Write"),
        };
        let on_change = move |ev| {
            let effect = parse_effect(&event_target_value(&ev));
            grants.update(|g| set_effect(g, area, access, effect));
        };
        let option = |value: &'static str, text: &'static str| {
            view! {
                <option value=value selected=current == value>
                    {text}
                </option>
            }
        };
        view! {
            <td>
                <select
                    id=format!("{id}-{}-{access_name}", area.as_str())
                    aria-label=format!("{access_label} {}", area.label())
                    disabled=move || disabled.get()
                    on:change=on_change
                >
                    {option("", "—")}
                    {option("allow", "Allow")}
                    {option("deny", "Deny")}
                </select>
            </td>
        }
    };
    view! {
        <table class="rights">
            <caption>"Rights per area (a Deny, here or in a group, always wins)"</caption>
            <thead>
                <tr>
                    <th scope="col">"Area"</th>
                    <th scope="col">"Read"</th>
                    <th scope="col">"Write"</th>
                </tr>
            </thead>
            <tbody>
                {Area::ALL
                    .into_iter()
                    .map(|area| {
                        view! {
                            <tr>
                                <th scope="row">{area.label()}</th>
                                {cell(area, Access::Read)}
                                {cell(area, Access::Write)}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_grant_per_cell() {
        let mut grants = Vec::new();
        set_effect(&mut grants, Area::Jobs, Access::Write, Some(Effect::Allow));
        set_effect(&mut grants, Area::Jobs, Access::Read, Some(Effect::Allow));
        set_effect(&mut grants, Area::Jobs, Access::Write, Some(Effect::Deny));
        assert_eq!(grants.len(), 2);
        assert_eq!(
            effect_of(&grants, Area::Jobs, Access::Write),
            Some(Effect::Deny)
        );
        set_effect(&mut grants, Area::Jobs, Access::Write, None);
        assert_eq!(effect_of(&grants, Area::Jobs, Access::Write), None);
        assert_eq!(grants_text(&grants), "Jobs: read allowed");
        assert_eq!(grants_text(&[]), "None");
        for effect in [None, Some(Effect::Allow), Some(Effect::Deny)] {
            assert_eq!(parse_effect(effect_value(effect)), effect);
        }
    }

    #[test]
    fn rights_in_a_line() {
        let rights = Rights {
            superuser: false,
            read: vec![Area::Devices, Area::Jobs, Area::Audit],
            write: vec![Area::Jobs],
        };
        assert_eq!(
            rights_text(&rights),
            "Write: Jobs · Read: Devices and scans, Audit"
        );
        assert_eq!(rights_text(&Rights::default()), "No rights");
        assert_eq!(
            rights_text(&Rights::superuser()),
            "All rights (cannot be restricted)"
        );
    }
}
