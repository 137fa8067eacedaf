//! The sites: a list, a form for the id, name and allowed origins, the identity secret, the
//! snippet to paste (with a Copy button), the widget's look and texts, and the forms.

use super::{call, invalid, json, ErrorLine};
use crate::api::Refused;
use crate::i18n::{t, t_with};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::admin::{
    AdminSite, Appearance, FieldKind, FormField, LauncherPosition, OfflineMode, SiteDraft,
    SiteEdit, SiteForms, Snippet, Theme, LANGUAGES,
};
use protocol::SiteId;

/// The list of sites and the selected one (or the form for a new one).
#[component]
pub fn Sites() -> impl IntoView {
    let sites = RwSignal::new(Vec::<AdminSite>::new());
    // `Some(id)`: that site; `None`: the form for a new site.
    let selected = RwSignal::new(None::<Option<String>>);
    let error = RwSignal::new(None::<Refused>);
    spawn_local(async move {
        match call::<Vec<AdminSite>>("GET", "/v1/admin/sites", None).await {
            Ok(list) => {
                let list = list.unwrap_or_default();
                let first = list.first().map(|s| s.id.0.clone());
                sites.set(list);
                if let Some(first) = first {
                    selected.set(Some(Some(first)));
                }
            }
            Err(refused) => error.set(Some(refused)),
        }
    });
    // Rebuilt when another site (or the new-site form) is chosen, not when the list changes: a
    // save updates the list, and the forms (with their "Saved") stay as they are.
    let shown = move || {
        let choice = selected.get()?;
        Some(match choice {
            None => None,
            Some(id) => Some(sites.with_untracked(|s| s.iter().find(|s| s.id.0 == id).cloned())?),
        })
    };
    view! {
        <div class="admin-split">
            <aside class="list">
                <button data-testid="site-new" class="primary" on:click=move |_| selected.set(Some(None))>{t("sites.new_site")}</button>
                <For each=move || sites.get() key=|s: &AdminSite| (s.id.clone(), s.name.clone()) let:site>
                    <SiteItem site=site selected=selected />
                </For>
                <ErrorLine error=error testid="sites-error" />
            </aside>
            <section class="detail">
                {move || match shown() {
                    None => view! { <p class="empty">{t("sites.pick_a_site_or")}</p> }.into_any(),
                    Some(None) => view! { <SiteForm site=None sites=sites selected=selected /> }.into_any(),
                    Some(Some(site)) => view! { <SiteDetail site=site sites=sites selected=selected /> }.into_any(),
                }}
            </section>
        </div>
    }
}

/// One site in the list.
#[component]
fn SiteItem(
    /// The site.
    site: AdminSite,
    /// Which site is selected.
    selected: RwSignal<Option<Option<String>>>,
) -> impl IntoView {
    let id = site.id.0.clone();
    let mine = id.clone();
    view! {
        <button class="item" data-testid="site-item" data-site=id.clone()
            class:selected=move || selected.get() == Some(Some(mine.clone()))
            on:click=move |_| selected.set(Some(Some(id.clone())))>
            <span>{site.name}</span><small>{site.id.0.clone()}</small>
        </button>
    }
}

/// Puts `site` in the list (replacing its older copy) and selects it.
fn keep(
    sites: RwSignal<Vec<AdminSite>>,
    selected: RwSignal<Option<Option<String>>>,
    site: AdminSite,
) {
    let id = site.id.0.clone();
    sites.update(|list| match list.iter_mut().find(|s| s.id == site.id) {
        Some(old) => *old = site,
        None => {
            list.push(site);
            list.sort_by(|a, b| a.id.cmp(&b.id));
        }
    });
    // Setting the same selection again would rebuild the forms (and lose their "Saved").
    if selected.get_untracked() != Some(Some(id.clone())) {
        selected.set(Some(Some(id)));
    }
}

/// Sends a change of a site and takes in the site the deployment answers with: the error line
/// and the "Saved" mark of the form that sent it follow the outcome.
pub(super) fn save(
    (sites, selected): (RwSignal<Vec<AdminSite>>, RwSignal<Option<Option<String>>>),
    (error, saved): (RwSignal<Option<Refused>>, RwSignal<bool>),
    (method, path, body): (&'static str, String, Option<String>),
) {
    saved.set(false);
    spawn_local(async move {
        match call::<AdminSite>(method, &path, body).await {
            Ok(Some(site)) => {
                error.set(None);
                saved.set(true);
                keep(sites, selected, site);
            }
            Ok(None) => {}
            Err(refused) => error.set(Some(refused)),
        }
    });
}

/// Id, name and allowed origins: the form for a new site, or a site's first section.
#[component]
fn SiteForm(
    /// The site being edited, or `None` for a new one.
    site: Option<AdminSite>,
    /// Every site.
    sites: RwSignal<Vec<AdminSite>>,
    /// Which site is selected.
    selected: RwSignal<Option<Option<String>>>,
) -> impl IntoView {
    let editing = site.is_some();
    let id = RwSignal::new(site.as_ref().map(|s| s.id.0.clone()).unwrap_or_default());
    let name = RwSignal::new(site.as_ref().map(|s| s.name.clone()).unwrap_or_default());
    let origins = RwSignal::new(
        site.as_ref()
            .map(|s| s.allowed_origins.join("\n"))
            .unwrap_or_default(),
    );
    let error = RwSignal::new(None::<Refused>);
    let saved = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let allowed_origins: Vec<String> = origins
            .get_untracked()
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        let (id, name) = (id.get_untracked().trim().to_owned(), name.get_untracked());
        let call = match editing {
            true => (
                "PUT",
                format!("/v1/admin/sites/{id}"),
                json(&SiteEdit {
                    name,
                    allowed_origins,
                }),
            ),
            false => (
                "POST",
                "/v1/admin/sites".to_owned(),
                json(&SiteDraft {
                    id: SiteId(id),
                    name,
                    allowed_origins,
                }),
            ),
        };
        save((sites, selected), (error, saved), call);
    };
    view! {
        <form class="card" on:submit=submit>
            <h2>{if editing { t("sites.site") } else { t("sites.new_site") }}</h2>
            <label>{t("sites.site_id_in_the")}
                <input data-testid="site-id-input" type="text" required=true disabled=editing
                    aria-invalid=invalid(error, "id") aria-describedby="site-error"
                    prop:value=move || id.get() on:input=move |ev| id.set(event_target_value(&ev)) />
            </label>
            <label>{t("common.name")}
                <input data-testid="site-name-input" type="text" required=true
                    aria-invalid=invalid(error, "name") aria-describedby="site-error"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </label>
            <label>{t("sites.allowed_origins_one_per")}
                <textarea data-testid="site-origins-input" rows="3" placeholder="https://shop.example"
                    aria-invalid=invalid(error, "allowed_origins") aria-describedby="site-error"
                    prop:value=move || origins.get() on:input=move |ev| origins.set(event_target_value(&ev))></textarea>
            </label>
            <ErrorLine error=error testid="site-error" />
            <div class="actions">
                <button data-testid="site-save" type="submit" class="primary">{if editing { t("common.save") } else { t("sites.create_site") }}</button>
                <Show when=move || saved.get()><span class="saved" role="status">{t("common.saved")}</span></Show>
            </div>
        </form>
    }
}

/// Everything about one site.
#[component]
fn SiteDetail(
    /// The site.
    site: AdminSite,
    /// Every site.
    sites: RwSignal<Vec<AdminSite>>,
    /// Which site is selected.
    selected: RwSignal<Option<Option<String>>>,
) -> impl IntoView {
    let id = site.id.0.clone();
    let error = RwSignal::new(None::<Refused>);
    let rotate = {
        let id = id.clone();
        let unmarked = RwSignal::new(false);
        move |_| {
            let path = format!("/v1/admin/sites/{id}/identity-secret");
            save((sites, selected), (error, unmarked), ("POST", path, None));
        }
    };
    let remove = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            spawn_local(async move {
                match call::<()>("DELETE", &format!("/v1/admin/sites/{id}"), None).await {
                    Ok(_) => {
                        sites.update(|list| list.retain(|s| s.id.0 != id));
                        selected.set(None);
                    }
                    Err(refused) => error.set(Some(refused)),
                }
            });
        }
    };
    let secret = {
        let id = id.clone();
        move || {
            sites
                .with(|list| list.iter().find(|s| s.id.0 == id)?.identity_secret.clone())
                .unwrap_or_else(|| t("sites.no_secret_yet"))
        }
    };
    view! {
        <SiteForm site=Some(site.clone()) sites=sites selected=selected />
        <SnippetCard id=id.clone() />
        <AppearanceForm id=id.clone() appearance=site.appearance.clone() sites=sites selected=selected />
        <FormsForm id=id.clone() forms=site.forms.clone() sites=sites selected=selected />
        <super::routing::RoutingCard id=id.clone() mode=site.routing sites=sites selected=selected />
        <section class="card">
            <h2>{t("sites.identity_verification")}</h2>
            <p>{t("sites.your_backend_signs_a")}</p>
            <code class="secret" data-testid="site-secret">{secret}</code>
            <div class="actions">
                <button data-testid="site-secret-rotate" type="button" on:click=rotate>{t("sites.rotate_secret")}</button>
            </div>
        </section>
        <section class="card danger">
            <h2>{t("sites.remove_this_site")}</h2>
            <p>{t("sites.its_widget_will_say")}</p>
            <ErrorLine error=error testid="site-remove-error" />
            <button data-testid="site-remove" type="button" on:click=remove>{t("sites.remove_site")}</button>
        </section>
    }
}

/// The snippet to paste, with a Copy button.
#[component]
fn SnippetCard(
    /// The site.
    id: String,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let copied = RwSignal::new(None::<String>);
    spawn_local(async move {
        let path = format!("/v1/admin/sites/{id}/snippet");
        match call::<Snippet>("GET", &path, None).await {
            Ok(Some(snippet)) => text.set(snippet.snippet),
            Ok(None) => {}
            Err(refused) => text.set(refused.message),
        }
    });
    let code = NodeRef::<leptos::html::Code>::new();
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let promise = window
            .navigator()
            .clipboard()
            .write_text(&text.get_untracked());
        // Where the page may not write the clipboard, the snippet is selected for Ctrl+C.
        let code = code.get_untracked();
        spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(promise).await {
                Ok(_) => copied.set(Some(t("sites.copied"))),
                Err(_) => {
                    if let (Some(code), Some(selection)) =
                        (code, window.get_selection().ok().flatten())
                    {
                        let _ = selection.select_all_children(&code);
                    }
                    copied.set(Some(t("sites.selected_press_ctrl_c")));
                }
            }
        });
    };
    view! {
        <section class="card">
            <h2>{t("sites.snippet")}</h2>
            <p>{t("sites.paste_this_before")} " " <code>"</head>"</code> " " {t("sites.on_every_page_that")}</p>
            // Focusable, so a keyboard can scroll a snippet wider than the card.
            <pre class="snippet" tabindex="0" aria-label=t("sites.the_snippet")><code data-testid="snippet-code" node_ref=code>{move || text.get()}</code></pre>
            <div class="actions">
                <button data-testid="snippet-copy" type="button" on:click=copy>{t("sites.copy")}</button>
                <span class="saved" role="status">{move || copied.get()}</span>
            </div>
        </section>
    }
}

/// A language's own name, for the select.
fn language_name(code: &str) -> &'static str {
    match code {
        "en" => "English",
        "de" => "Deutsch",
        "fr" => "Français",
        "es" => "Español",
        "nb" => "Norsk bokmål",
        "pt" => "Português",
        "it" => "Italiano",
        "nl" => "Nederlands",
        "pl" => "Polski",
        "ja" => "日本語",
        "ar" => "العربية",
        "he" => "עברית",
        _ => "?",
    }
}

/// The widget's look and texts.
#[component]
fn AppearanceForm(
    /// The site.
    id: String,
    /// As stored.
    appearance: Appearance,
    /// Every site.
    sites: RwSignal<Vec<AdminSite>>,
    /// Which site is selected.
    selected: RwSignal<Option<Option<String>>>,
) -> impl IntoView {
    let look = RwSignal::new(appearance);
    let error = RwSignal::new(None::<Refused>);
    let saved = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let path = format!("/v1/admin/sites/{id}/appearance");
        save(
            (sites, selected),
            (error, saved),
            ("PUT", path, json(&look.get_untracked())),
        );
    };
    view! {
        <form class="card" on:submit=submit>
            <h2>{t("sites.look_and_texts")}</h2>
            <div class="row">
                <label>{t("sites.accent_colour")}
                    <input data-testid="appearance-color" type="color" aria-invalid=invalid(error, "accent_color")
                        prop:value=move || look.with(|l| l.accent_color.clone())
                        on:input=move |ev| look.update(|l| l.accent_color = event_target_value(&ev)) />
                </label>
                <label>{t("sites.launcher_position")}
                    <select data-testid="appearance-position" prop:value=move || look.with(|l| l.position.as_str())
                        on:change=move |ev| look.update(|l| {
                            l.position = LauncherPosition::parse(&event_target_value(&ev)).unwrap_or_default()
                        })>
                        <option value="bottom_right">{t("sites.bottom_right")}</option>
                        <option value="bottom_left">{t("sites.bottom_left")}</option>
                    </select>
                </label>
                <label>{t("sites.colours")}
                    <select data-testid="appearance-theme" prop:value=move || look.with(|l| l.theme.as_str())
                        on:change=move |ev| look.update(|l| {
                            l.theme = Theme::parse(&event_target_value(&ev)).unwrap_or_default()
                        })>
                        <option value="auto">{t("sites.follow_the_visitor_s")}</option>
                        <option value="light">{t("sites.always_light")}</option>
                        <option value="dark">{t("sites.always_dark")}</option>
                    </select>
                </label>
                <label>{t("sites.default_language")}
                    <select data-testid="appearance-language" aria-invalid=invalid(error, "language")
                        prop:value=move || look.with(|l| l.language.clone())
                        on:change=move |ev| look.update(|l| l.language = event_target_value(&ev))>
                        {LANGUAGES.iter().map(|code| view! { <option value=*code>{language_name(code)}</option> }).collect_view()}
                    </select>
                </label>
            </div>
            <label>{t("sites.launcher_label")}
                <input data-testid="appearance-label" type="text" aria-invalid=invalid(error, "launcher_label")
                    prop:value=move || look.with(|l| l.launcher_label.clone())
                    on:input=move |ev| look.update(|l| l.launcher_label = event_target_value(&ev)) />
            </label>
            <label>{t("sites.panel_title")}
                <input data-testid="appearance-title" type="text" aria-invalid=invalid(error, "title")
                    prop:value=move || look.with(|l| l.title.clone())
                    on:input=move |ev| look.update(|l| l.title = event_target_value(&ev)) />
            </label>
            <label>{t("sites.greeting")}
                <textarea data-testid="appearance-greeting" rows="2" aria-invalid=invalid(error, "greeting")
                    prop:value=move || look.with(|l| l.greeting.clone())
                    on:input=move |ev| look.update(|l| l.greeting = event_target_value(&ev))></textarea>
            </label>
            <label>{t("sites.away_text_nobody_online")}
                <textarea data-testid="appearance-away" rows="2" aria-invalid=invalid(error, "away_text")
                    prop:value=move || look.with(|l| l.away_text.clone())
                    on:input=move |ev| look.update(|l| l.away_text = event_target_value(&ev))></textarea>
            </label>
            <ErrorLine error=error testid="appearance-error" />
            <div class="actions">
                <button data-testid="appearance-save" type="submit" class="primary">{t("sites.save_look")}</button>
                <Show when=move || saved.get()><span class="saved" role="status">{t("common.saved")}</span></Show>
            </div>
        </form>
    }
}

/// The pre-chat form and what happens when nobody is online.
#[component]
fn FormsForm(
    /// The site.
    id: String,
    /// As stored.
    forms: SiteForms,
    /// Every site.
    sites: RwSignal<Vec<AdminSite>>,
    /// Which site is selected.
    selected: RwSignal<Option<Option<String>>>,
) -> impl IntoView {
    let forms = RwSignal::new(forms);
    let error = RwSignal::new(None::<Refused>);
    let saved = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let path = format!("/v1/admin/sites/{id}/forms");
        save(
            (sites, selected),
            (error, saved),
            ("PUT", path, json(&forms.get_untracked())),
        );
    };
    let add_field = move |_| {
        forms.update(|f| {
            let n = f.prechat.fields.len() + 1;
            f.prechat.fields.push(FormField {
                key: format!("field_{n}"),
                label: t_with("sites.question_n", &[("n", &n.to_string())]),
                kind: FieldKind::Text,
                required: false,
            });
        })
    };
    let indices = move || (0..forms.with(|f| f.prechat.fields.len())).collect::<Vec<_>>();
    view! {
        <form class="card" on:submit=submit>
            <h2>{t("sites.forms")}</h2>
            <label class="check">
                <input data-testid="prechat-enabled" type="checkbox" prop:checked=move || forms.with(|f| f.prechat.enabled)
                    on:change=move |ev| forms.update(|f| f.prechat.enabled = event_target_checked(&ev)) />
                {t("sites.ask_for_these_before")}
            </label>
            <table class="fields" aria-invalid=invalid(error, "prechat.fields")>
                <thead><tr><th>{t("sites.key")}</th><th>{t("sites.label")}</th><th>{t("sites.kind")}</th><th>{t("sites.required")}</th><th></th></tr></thead>
                <tbody>
                    <For each=indices key=|i| *i let:i>
                        <FieldRow forms=forms index=i />
                    </For>
                </tbody>
            </table>
            <button type="button" data-testid="prechat-add-field" on:click=add_field>{t("sites.add_a_field")}</button>
            <label>{t("sites.when_nobody_is_online")}
                <select data-testid="offline-mode" prop:value=move || forms.with(|f| f.offline.as_str())
                    on:change=move |ev| forms.update(|f| {
                        f.offline = OfflineMode::parse(&event_target_value(&ev)).unwrap_or_default()
                    })>
                    <option value="form">{t("sites.offer_the_offline_form")}</option>
                    <option value="hide_launcher">{t("sites.hide_the_launcher")}</option>
                </select>
            </label>
            <label>{t("sites.e_mail_offline_messages")}
                <input data-testid="forms-notify-email" type="email" placeholder="support@example.com"
                    prop:value=move || forms.with(|f| f.notify_email.clone().unwrap_or_default())
                    on:input=move |ev| forms.update(|f| {
                        let value = event_target_value(&ev).trim().to_owned();
                        f.notify_email = Some(value).filter(|v| !v.is_empty());
                    }) />
            </label>
            <label>{t("sites.rating_after_a_chat")}
                <select data-testid="rating-scale" prop:value=move || forms.with(|f| f.rating.as_str())
                    on:change=move |ev| forms.update(|f| {
                        f.rating = protocol::conversation::RatingScale::parse(&event_target_value(&ev)).unwrap_or_default()
                    })>
                    <option value="good_bad">{t("sites.good_or_bad")}</option>
                    <option value="stars">{t("sites.one_to_five_stars")}</option>
                    <option value="off">{t("sites.do_not_ask")}</option>
                </select>
            </label>
            <super::files::FileRulesFields forms=forms error=error />
            <ErrorLine error=error testid="forms-error" />
            <div class="actions">
                <button data-testid="forms-save" type="submit" class="primary">{t("sites.save_forms")}</button>
                <Show when=move || saved.get()><span class="saved" role="status">{t("common.saved")}</span></Show>
            </div>
        </form>
    }
}

/// One field of the pre-chat form.
#[component]
fn FieldRow(
    /// The forms being edited.
    forms: RwSignal<SiteForms>,
    /// The field's position.
    index: usize,
) -> impl IntoView {
    let get = move |f: fn(&FormField) -> String| {
        move || forms.with(|forms| forms.prechat.fields.get(index).map(f).unwrap_or_default())
    };
    let edit = move |ev: leptos::ev::Event, f: fn(&mut FormField, String)| {
        let value = event_target_value(&ev);
        forms.update(|forms| {
            if let Some(field) = forms.prechat.fields.get_mut(index) {
                f(field, value);
            }
        });
    };
    let kind = move || {
        forms.with(|f| match f.prechat.fields.get(index).map(|f| f.kind) {
            Some(FieldKind::Name) => "name",
            Some(FieldKind::Email) => "email",
            _ => "text",
        })
    };
    view! {
        <tr data-testid="prechat-field">
            <td><input type="text" aria-label=t("sites.key") prop:value=get(|f| f.key.clone()) on:input=move |ev| edit(ev, |f, v| f.key = v) /></td>
            <td><input type="text" aria-label=t("sites.label") prop:value=get(|f| f.label.clone()) on:input=move |ev| edit(ev, |f, v| f.label = v) /></td>
            <td>
                <select aria-label=t("sites.kind") prop:value=kind on:change=move |ev| edit(ev, |f, v| {
                    f.kind = match v.as_str() { "name" => FieldKind::Name, "email" => FieldKind::Email, _ => FieldKind::Text }
                })>
                    <option value="name">{t("common.name")}</option>
                    <option value="email">{t("common.e_mail")}</option>
                    <option value="text">{t("common.text")}</option>
                </select>
            </td>
            <td><input type="checkbox" aria-label=t("sites.required")
                prop:checked=move || forms.with(|f| f.prechat.fields.get(index).is_some_and(|f| f.required))
                on:change=move |ev| {
                    let checked = event_target_checked(&ev);
                    forms.update(|f| if let Some(field) = f.prechat.fields.get_mut(index) { field.required = checked });
                } /></td>
            <td><button type="button" aria-label=t("sites.remove_field") on:click=move |_| forms.update(|f| {
                if index < f.prechat.fields.len() { f.prechat.fields.remove(index); }
            })>"×"</button></td>
        </tr>
    }
}
