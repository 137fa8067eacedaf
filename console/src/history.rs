//! History: the closed conversations of the sites the operator serves, searched by the words of
//! their messages and filtered by site, operator, date and rating, a page at a time; a click
//! shows the whole transcript, read only, with its notes and rating. Asked of whichever
//! deployment answers (both hold the same index: it is derived from the replicated messages).

use crate::admin::call;
use crate::i18n::{t, t_with};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::history::{HistoryPage, RatingFilter, TranscriptPage};
use protocol::{AuthorKind, ConversationId, ConversationSummary};

/// How long typing pauses before the search runs.
const SEARCH_PAUSE_MS: u64 = 250;

/// The filters as the form holds them.
#[derive(Clone, Default, PartialEq)]
struct Filters {
    q: String,
    site: String,
    operator: String,
    rating: String,
    from: String,
    to: String,
}

/// A `YYYY-MM-DD` of a date field as local midnight in Unix milliseconds, `days` later.
fn day_ms(date: &str, days: u32) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let day = js_sys::Date::new_with_year_month_day(y, m.checked_sub(1)? as i32, (d + days) as i32);
    Some(day.get_time() as i64)
}

impl Filters {
    /// The query string of `GET /v1/history`.
    fn query(&self, before: Option<&str>) -> String {
        let mut parts = Vec::new();
        let mut add = |key: &str, value: &str| {
            if !value.trim().is_empty() {
                parts.push(format!(
                    "{key}={}",
                    js_sys::encode_uri_component(value.trim())
                ));
            }
        };
        add("q", &self.q);
        add("site", &self.site);
        add("operator", &self.operator);
        add("rating", &self.rating);
        add(
            "from",
            &day_ms(&self.from, 0)
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
        );
        add(
            "to",
            &day_ms(&self.to, 1)
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
        );
        add("before", before.unwrap_or_default());
        match parts.is_empty() {
            true => String::new(),
            false => format!("?{}", parts.join("&")),
        }
    }
}

/// The history view.
#[component]
pub fn History() -> impl IntoView {
    let filters = RwSignal::new(Filters::default());
    let page = RwSignal::new(None::<HistoryPage>);
    let error = RwSignal::new(None::<String>);
    let opened = RwSignal::new(None::<TranscriptPage>);
    // Only the newest search's answer is shown, whatever order the answers arrive in.
    let generation = StoredValue::new(0u64);
    let run = move |more: bool| {
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        let before = more
            .then(|| page.with_untracked(|p| p.as_ref().and_then(|p| p.next.clone())))
            .flatten();
        let path = format!(
            "/v1/history{}",
            filters.get_untracked().query(before.as_deref())
        );
        spawn_local(async move {
            let answer = call::<HistoryPage>("GET", &path, None).await;
            if generation.get_value() != mine {
                return;
            }
            match answer {
                Ok(Some(mut found)) => {
                    error.set(None);
                    if more {
                        let earlier = page
                            .get_untracked()
                            .map(|p| p.conversations)
                            .unwrap_or_default();
                        found.conversations.splice(0..0, earlier);
                    }
                    page.set(Some(found));
                }
                Ok(None) => {}
                Err(refused) => error.set(Some(refused.message)),
            }
        });
    };
    run(false);
    let edit = move |change: fn(&mut Filters, String)| {
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            filters.update(|f| change(f, value));
            generation.update_value(|g| *g += 1);
            let mine = generation.get_value();
            browser::set_timeout(SEARCH_PAUSE_MS, move || {
                if generation.get_value() == mine {
                    run(false);
                }
            });
        }
    };
    let open = move |id: ConversationId| {
        spawn_local(async move {
            match call::<TranscriptPage>("GET", &format!("/v1/history/{id}"), None).await {
                Ok(found) => opened.set(found),
                Err(refused) => error.set(Some(refused.message)),
            }
        });
    };
    let sites = move || page.with(|p| p.as_ref().map(|p| p.sites.clone()).unwrap_or_default());
    let operators =
        move || page.with(|p| p.as_ref().map(|p| p.operators.clone()).unwrap_or_default());
    let items = move || {
        page.with(|p| {
            p.as_ref()
                .map(|p| p.conversations.clone())
                .unwrap_or_default()
        })
    };
    let more = move || page.with(|p| p.as_ref().is_some_and(|p| p.next.is_some()));
    let item = move |c: ConversationSummary| {
        let id = c.id;
        let when = browser::local_time(c.updated_at).1;
        let who = c
            .operator
            .as_ref()
            .map(|o| format!(" · {}", o.name))
            .unwrap_or_default();
        let rating = c
            .rating
            .as_ref()
            .map(|r| format!(" · {}", r.scale.label(r.score)))
            .unwrap_or_default();
        view! {
            <li><button class="history-item" data-testid="history-item" data-conversation=id.to_string()
                on:click=move |_| open(id)>
                <span class="who">{crate::ui::visitor_label(&c)}{who}{rating}</span>
                <span class="preview">{c.last_message.clone().unwrap_or_default()}</span>
                <time>{when}</time>
            </button></li>
        }
    };
    view! {
        <main class="history">
            <form class="filters" on:submit=move |ev| { ev.prevent_default(); run(false); }>
                <input data-testid="history-search" type="search" placeholder=t("history.search_messages") aria-label=t("history.search_messages_2")
                    maxlength="200" prop:value=move || filters.with(|f| f.q.clone()) on:input=edit(|f, v| f.q = v) />
                <select data-testid="history-filter-site" aria-label=t("history.site") on:change=edit(|f, v| f.site = v)>
                    <option value="">{t("history.all_sites")}</option>
                    {move || sites().into_iter().map(|s| view! { <option value=s.0.clone()>{s.0.clone()}</option> }).collect_view()}
                </select>
                <select data-testid="history-filter-operator" aria-label=t("history.operator") on:change=edit(|f, v| f.operator = v)>
                    <option value="">{t("history.any_operator")}</option>
                    {move || operators().into_iter().map(|o| view! { <option value=o.id.to_string()>{o.name.clone()}</option> }).collect_view()}
                </select>
                <select data-testid="history-filter-rating" aria-label=t("history.rating") on:change=edit(|f, v| f.rating = v)>
                    <option value="">{t("history.any_rating")}</option>
                    {RatingFilter::ALL.into_iter().map(|r| view! { <option value=r.as_str()>{crate::i18n::rating_filter(r)}</option> }).collect_view()}
                </select>
                <label>{t("history.from")} <input data-testid="history-filter-from" type="date" on:change=edit(|f, v| f.from = v) /></label>
                <label>{t("history.to")} <input data-testid="history-filter-to" type="date" on:change=edit(|f, v| f.to = v) /></label>
            </form>
            <Show when=move || error.get().is_some()>
                <p class="error" data-testid="history-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <div class="history-body">
                <ul class="history-list">{move || items().into_iter().map(item).collect_view()}</ul>
                <Show when=more>
                    <button data-testid="history-more" on:click=move |_| run(true)>{t("history.more")}</button>
                </Show>
                {move || opened.get().map(|t| view! { <Transcript page=t /> })}
            </div>
        </main>
    }
}

/// A closed conversation, read only: its messages and notes, and its rating.
#[component]
fn Transcript(
    /// What the deployment answered.
    page: TranscriptPage,
) -> impl IntoView {
    let c = page.conversation;
    let rating = c.rating.clone().map(|r| {
        view! {
            <p class="rating" data-testid="conversation-rating" data-value=r.score.to_string()>
                {t_with("common.rated", &[("score", &r.scale.label(r.score))])}
                {r.comment.map(|c| view! { <q>{c}</q> })}
            </p>
        }
    });
    let lines = page
        .messages
        .into_iter()
        .map(|m| {
            let author = m.author.kind.as_str();
            let name = match m.author.kind {
                AuthorKind::System => String::new(),
                _ => m.author.name.clone().unwrap_or_else(|| t("context.visitor")),
            };
            let (time, full, iso) = browser::local_time(m.sent_at);
            let class = if m.private { format!("line note {author}") } else { format!("line {author}") };
            view! {
                <div class=class data-testid="transcript-line" data-author=author data-private=m.private.to_string()>
                    {m.private.then(|| view! { <span class="note-label">{t("common.note")}</span> })}
                    <strong>{name}</strong>" "<span class="body">{m.body}</span>
                    <time datetime=iso title=full>{time}</time>
                </div>
            }
        })
        .collect_view();
    view! {
        <section class="transcript" data-testid="transcript-view" data-conversation=c.id.to_string()>
            <h2>{crate::ui::visitor_label(&c)}<small>{c.page_url.clone().unwrap_or_default()}</small></h2>
            {rating}
            <div class="messages">{lines}</div>
        </section>
    }
}
