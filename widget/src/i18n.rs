//! The widget's texts in the visitor's language. English is compiled in; any other of
//! [`protocol::admin::LANGUAGES`] is fetched from `widget/locales/<tag>.txt` beside the widget
//! when first needed, so an English visitor downloads nothing more and no visitor downloads
//! languages they do not read. A key the chosen language lacks shows in English. The language:
//! the page's `setLocale`, else the site's (snippet or admin app), else the browser's.

use crate::settings::Settings;
use crate::state::ChatState;
use browser::i18n::{fill, Catalog};
use leptos::prelude::*;
use std::cell::RefCell;

thread_local! {
    static ENGLISH: Catalog = Catalog::parse(include_str!("../locales/en.txt"));
    /// The shown language's catalogue, once fetched; `None` for English.
    static CURRENT: RefCell<Option<(String, Catalog)>> = const { RefCell::new(None) };
    /// Bumped when `CURRENT` changes, so every text re-renders.
    static VERSION: RefCell<Option<RwSignal<u32>>> = const { RefCell::new(None) };
}

/// The text of `key` in the shown language (a reactive read: it changes with the language).
pub fn t(key: &str) -> String {
    if let Some(version) = VERSION.with(|v| *v.borrow()) {
        version.track();
    }
    CURRENT
        .with(|c| {
            c.borrow()
                .as_ref()
                .and_then(|(_, c)| c.get(key).map(str::to_owned))
        })
        .or_else(|| ENGLISH.with(|e| e.get(key).map(str::to_owned)))
        .unwrap_or_else(|| key.to_owned())
}

/// The text of `key` as a view or an attribute value: it follows the language. Every call returns
/// the same type, so the renderer's code for a translated text is in the download once, where a
/// closure written at each place (`move || t(key)`) has its own copy of it, about 1.5 KB each.
pub fn tr(key: &'static str) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    move || t(key)
}

/// [`t`] with its `{name}` values filled in.
pub fn t_with(key: &str, values: &[(&str, &str)]) -> String {
    fill(&t(key), values)
}

/// The catalogue for `locale` (`pt-BR` → `pt`, Norwegian `no` and `nn` → `nb`), if the widget
/// speaks it.
pub fn language_of(locale: &str) -> &'static str {
    let primary = locale
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let primary = match primary.as_str() {
        "no" | "nn" => "nb",
        "iw" => "he",
        other => other,
    };
    protocol::admin::LANGUAGES
        .into_iter()
        .find(|l| *l == primary)
        .unwrap_or("en")
}

/// Follows the shown locale: fetches its catalogue when it is not English and not loaded yet.
/// Needs the mounted app's reactive owner.
pub fn install(settings: &Settings, state: ChatState) {
    let version = RwSignal::new(0);
    VERSION.with(|v| *v.borrow_mut() = Some(version));
    let settings = settings.clone();
    crate::state::effect(move || {
        let language = language_of(&state.shown_locale());
        let loaded = CURRENT.with(|c| c.borrow().as_ref().map(|(l, _)| l.clone()));
        if language == "en" {
            if loaded.is_some() {
                CURRENT.with(|c| *c.borrow_mut() = None);
                version.update(|n| *n += 1);
            }
            return;
        }
        if loaded.as_deref() == Some(language) {
            return;
        }
        let path = format!("widget/locales/{language}.txt");
        crate::settings::get_asset(&settings, &path, move |answer| {
            // No deployment gave it: English stays until a later change of language tries again.
            let Some(body) = answer else { return };
            // A slow answer for a language no longer shown is dropped.
            if language_of(&state.shown_locale_untracked()) != language {
                return;
            }
            CURRENT.with(|c| *c.borrow_mut() = Some((language.to_owned(), Catalog::parse(&body))));
            version.update(|n| *n += 1);
        });
    });
}
