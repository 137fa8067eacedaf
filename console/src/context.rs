//! The visitor's context beside a conversation: who they are (form answers), where they are now
//! and the pages before, where they came from, their browser, language and local time, whether
//! they came before, and their other conversations. Asked of a deployment every two seconds
//! while the pane is open, so a page the visitor opens shows within moments, whichever
//! deployment recorded it.

use crate::admin::call;
use crate::driver;
use crate::i18n::t;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::visitor::VisitorContextView;
use protocol::{ConversationId, ConversationSummary, VisitorId};

/// How often an open panel asks again.
const REFRESH_MS: u64 = 2000;

/// The visitor's local time now, in their time zone (the console's own when unknown).
fn local_time(time_zone: Option<&str>) -> String {
    let options = js_sys::Object::new();
    if let Some(zone) = time_zone {
        let _ = js_sys::Reflect::set(&options, &"timeZone".into(), &zone.into());
    }
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &options);
    let now = js_sys::Date::new_0();
    let text = format
        .format()
        .call1(&format, &now)
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    match time_zone {
        Some(zone) => format!("{text} ({zone})"),
        None => text,
    }
}

/// The panel for the conversation `id` of visitor `visitor`.
#[component]
pub fn VisitorContextPanel(
    /// The conversation the pane shows (its own entry is left out of the list of others).
    id: ConversationId,
    /// Its visitor.
    visitor: VisitorId,
) -> impl IntoView {
    let view_of = RwSignal::new(None::<VisitorContextView>);
    let alive = StoredValue::new(true);
    on_cleanup(move || alive.set_value(false));
    let load = move || {
        spawn_local(async move {
            let path = format!("/v1/visitors/{visitor}/context");
            // A failed refresh keeps what was shown; the next one tries again.
            if let Ok(Some(found)) = call::<VisitorContextView>("GET", &path, None).await {
                if view_of.get_untracked().as_ref() != Some(&found) {
                    view_of.set(Some(found));
                }
            }
        });
    };
    fn poll(load: impl Fn() + Copy + 'static, alive: StoredValue<bool>) {
        if alive.try_get_value().unwrap_or(false) {
            load();
            browser::set_timeout(REFRESH_MS, move || poll(load, alive));
        }
    }
    poll(load, alive);
    let field = move |pick: fn(&VisitorContextView) -> Option<String>| {
        move || {
            view_of
                .with(|v| v.as_ref().and_then(pick))
                .unwrap_or_else(|| "—".into())
        }
    };
    let name = field(|v| v.details.as_ref()?.name.clone());
    let email = field(|v| v.details.as_ref()?.email.clone());
    let page = field(|v| v.pages.first().map(|p| p.url.clone()));
    let referrer = field(|v| v.context.as_ref()?.referrer.clone());
    let browser_name = field(|v| v.context.as_ref()?.browser());
    let language = field(|v| v.context.as_ref()?.language.clone());
    // Set only by a deployment that checked the site's signature (`identify`).
    let user = field(|v| v.context.as_ref()?.user_id.clone());
    let attributes = move || {
        view_of.with(|v| {
            v.as_ref()
                .and_then(|v| v.context.as_ref())
                .map(|c| c.attributes.clone().into_iter().collect::<Vec<_>>())
                .unwrap_or_default()
        })
    };
    let zone = move || {
        view_of.with(|v| {
            v.as_ref()
                .and_then(|v| v.context.as_ref()?.time_zone.clone())
        })
    };
    let returning = move || view_of.with(|v| v.as_ref().map(|v| v.returning()));
    let earlier_pages = move || {
        view_of.with(|v| {
            v.as_ref()
                .map(|v| v.pages.iter().skip(1).cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
    };
    let others = move || {
        view_of.with(|v| {
            v.as_ref()
                .map(|v| {
                    v.conversations
                        .iter()
                        .filter(|c| c.id != id)
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let previous = move |c: ConversationSummary| {
        let when = browser::local_time(c.created_at).1;
        let preview = c.last_message.clone().unwrap_or_default();
        let label = format!("{when} · {} · {preview}", c.state.as_str());
        view! {
            <li><button type="button" class="link" data-testid="context-previous" data-conversation=c.id.to_string()
                on:click=move |_| driver::open_conversation(c.clone())>{label}</button></li>
        }
    };
    view! {
        <aside class="context" data-testid="visitor-context" aria-label=t("context.visitor")>
            <dl>
                <dt>{t("common.name")}</dt><dd data-testid="context-name">{name}</dd>
                <dt>{t("common.e_mail")}</dt><dd data-testid="context-email">{email}</dd>
                <dt>{t("context.now_on")}</dt><dd data-testid="context-page">{page}</dd>
                <dt>{t("context.came_from")}</dt><dd data-testid="context-referrer">{referrer}</dd>
                <dt>{t("context.browser")}</dt><dd data-testid="context-browser">{browser_name}</dd>
                <dt>{t("context.language")}</dt><dd data-testid="context-language">{language}</dd>
                <dt>{t("context.local_time")}</dt><dd data-testid="context-local-time">{move || local_time(zone().as_deref())}</dd>
                <dt>{t("context.signed_in_as")}</dt><dd data-testid="context-user">{user}</dd>
                <dt>{t("context.visitor")}</dt>
                <dd data-testid="context-returning" data-returning=move || returning().map(|r| r.to_string()).unwrap_or_default()>
                    {move || match returning() { Some(true) => t("context.returning"), Some(false) => t("context.new"), None => "—".to_owned() }}
                </dd>
            </dl>
            <Show when=move || !attributes().is_empty()>
                <h4>{t("context.attributes")}</h4>
                <dl class="attributes">
                    {move || attributes().into_iter().map(|(key, value)| view! {
                        <dt>{key.clone()}</dt><dd data-testid="context-attribute" data-key=key>{value}</dd>
                    }).collect_view()}
                </dl>
            </Show>
            <Show when=move || !earlier_pages().is_empty()>
                <h4>{t("context.pages_before")}</h4>
                <ol class="pages">
                    {move || earlier_pages().into_iter().map(|p| view! {
                        <li data-testid="context-page-history">{p.url}" "<time>{browser::local_time(p.at).0}</time></li>
                    }).collect_view()}
                </ol>
            </Show>
            <Show when=move || !others().is_empty()>
                <h4>{t("context.other_conversations")}</h4>
                <ul class="previous">{move || others().into_iter().map(previous).collect_view()}</ul>
            </Show>
        </aside>
    }
}
