//! The Forms tab's file rules: whether the site narrows what the deployments accept, the
//! largest file and the allowed types. Saved with the forms; the deployment checks them again.

use super::invalid;
use crate::api::Refused;
use crate::i18n::t;
use leptos::prelude::*;
use protocol::admin::SiteForms;
use protocol::files::FileRules;

/// One megabyte, as the field counts.
const MB: u64 = 1024 * 1024;

/// What a site starts from when it begins to narrow the rules: the common images and PDF, at
/// most 10 MB.
fn starting_rules() -> FileRules {
    FileRules {
        max_bytes: 10 * MB,
        types: [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
        ]
        .map(String::from)
        .to_vec(),
    }
}

/// The fields, editing `forms.files`.
#[component]
pub fn FileRulesFields(
    /// The forms being edited.
    forms: RwSignal<SiteForms>,
    /// The last refusal, to mark the field it names.
    error: RwSignal<Option<Refused>>,
) -> impl IntoView {
    let limited = move || forms.with(|f| f.files.is_some());
    let edit = move |change: &dyn Fn(&mut FileRules)| {
        forms.update(|f| {
            if let Some(rules) = f.files.as_mut() {
                change(rules);
            }
        })
    };
    view! {
        <label class="check">
            <input data-testid="files-limit" type="checkbox" prop:checked=limited
                on:change=move |ev| forms.update(|f| {
                    f.files = event_target_checked(&ev).then(starting_rules);
                }) />
            {t("files.narrow_the_files_visitors")}
        </label>
        <Show when=limited>
            <label>{t("files.largest_file_mb")}
                <input data-testid="files-max-mb" type="number" min="1" step="1"
                    aria-invalid=invalid(error, "files.max_bytes")
                    prop:value=move || forms.with(|f| f.files.as_ref().map_or(0, |r| r.max_bytes.div_ceil(MB)).to_string())
                    on:input=move |ev| {
                        let mb = event_target_value(&ev).trim().parse::<u64>().unwrap_or(0);
                        edit(&|r| r.max_bytes = mb.saturating_mul(MB));
                    } />
            </label>
            <label>{t("files.allowed_types_one_per")}
                <textarea data-testid="files-types" rows="4" aria-invalid=invalid(error, "files.types")
                    prop:value=move || forms.with(|f| f.files.as_ref().map(|r| r.types.join("\n")).unwrap_or_default())
                    on:change=move |ev| {
                        let types: Vec<String> = event_target_value(&ev)
                            .split([',', '\n'])
                            .map(|t| t.trim().to_ascii_lowercase())
                            .filter(|t| !t.is_empty())
                            .collect();
                        edit(&|r| r.types.clone_from(&types));
                    } />
            </label>
        </Show>
    }
}
