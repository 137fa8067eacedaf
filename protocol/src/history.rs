//! History and search: the closed conversations of the sites an operator serves, filtered and
//! searched by words of their messages (full text), a page at a time, and one conversation's
//! whole transcript, read only, with its notes and rating.

use crate::ids::{OperatorId, SiteId};
use crate::model::{ConversationSummary, Message, OperatorCard};
use serde::{Deserialize, Serialize};

/// How many conversations a page of history holds.
pub const HISTORY_PAGE: usize = 25;

/// The longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// The most words a search uses (more are refused rather than silently dropped).
pub const MAX_SEARCH_WORDS: usize = 12;

/// Which ratings a history search keeps.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingFilter {
    /// Rated good (👍, or 4 and 5 stars).
    Good,
    /// Rated bad (👎, or 1 and 2 stars).
    Bad,
    /// Rated at all.
    Rated,
    /// Not rated.
    Unrated,
}

impl RatingFilter {
    /// Every filter, in the order the console lists them.
    pub const ALL: [RatingFilter; 4] = [
        RatingFilter::Good,
        RatingFilter::Bad,
        RatingFilter::Rated,
        RatingFilter::Unrated,
    ];

    /// The name used in the query string.
    pub fn as_str(self) -> &'static str {
        match self {
            RatingFilter::Good => "good",
            RatingFilter::Bad => "bad",
            RatingFilter::Rated => "rated",
            RatingFilter::Unrated => "unrated",
        }
    }

    /// The filter named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// `GET /v1/history`'s query string; every part is optional.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// Words the conversation's messages contain (all of them; the last may be the start of a
    /// word). Any other character, including full-text syntax, only separates words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Only this site's conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<SiteId>,
    /// Only conversations this operator had last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorId>,
    /// Only conversations active at or after this moment (Unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Only conversations opened before this moment (Unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// Only these ratings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<RatingFilter>,
    /// The `next` of the page before, to continue from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

/// One page of history, newest activity first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// The conversations.
    pub conversations: Vec<ConversationSummary>,
    /// Where the next page starts (`before`), if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The sites the caller may filter by.
    pub sites: Vec<SiteId>,
    /// The operators the caller may filter by.
    pub operators: Vec<OperatorCard>,
}

/// `GET /v1/history/{id}`: a conversation and all its messages, notes included.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptPage {
    /// The conversation, with its rating.
    pub conversation: ConversationSummary,
    /// Its messages in order, private notes included.
    pub messages: Vec<Message>,
}

/// The full-text query for `text`: each word quoted (so no character of it is syntax), all of
/// them required, the last one also as the start of a longer word. `Ok(None)` when the text has
/// no word; an error sentence when it is too long.
pub fn fts_query(text: &str) -> Result<Option<String>, String> {
    if text.chars().count() > MAX_SEARCH_CHARS {
        return Err(format!("a search is at most {MAX_SEARCH_CHARS} characters"));
    }
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > MAX_SEARCH_WORDS {
        return Err(format!("a search has at most {MAX_SEARCH_WORDS} words"));
    }
    let Some((last, rest)) = words.split_last() else {
        return Ok(None);
    };
    let mut query: Vec<String> = rest.iter().map(|w| format!("\"{w}\"")).collect();
    query.push(format!("\"{last}\"*"));
    Ok(Some(query.join(" ")))
}

/// The cursor after a conversation last active at `updated_at` with id `id`.
pub fn cursor(updated_at: i64, id: &crate::ConversationId) -> String {
    format!("{updated_at}.{id}")
}

/// The inverse of [`cursor`].
pub fn parse_cursor(text: &str) -> Option<(i64, crate::ConversationId)> {
    let (at, id) = text.split_once('.')?;
    Some((
        at.parse().ok()?,
        crate::ConversationId(uuid::Uuid::parse_str(id).ok()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_becomes_quoted_words_whatever_syntax_it_holds() {
        assert_eq!(fts_query("  "), Ok(None));
        assert_eq!(fts_query("refund"), Ok(Some("\"refund\"*".into())));
        assert_eq!(
            fts_query("\"late\" OR NEAR(order* -x) col:y ^z"),
            Ok(Some(
                "\"late\" \"OR\" \"NEAR\" \"order\" \"x\" \"col\" \"y\" \"z\"*".into()
            ))
        );
        assert_eq!(
            fts_query("crème brûlée"),
            Ok(Some("\"crème\" \"brûlée\"*".into()))
        );
        assert!(fts_query(&"a".repeat(MAX_SEARCH_CHARS + 1)).is_err());
        assert!(fts_query(&"a ".repeat(MAX_SEARCH_WORDS + 1)).is_err());
    }

    #[test]
    fn cursors_round_trip_and_nonsense_is_refused() {
        let id = crate::ConversationId::from_parts(7, [3; 10]);
        assert_eq!(parse_cursor(&cursor(42, &id)), Some((42, id)));
        assert_eq!(parse_cursor("42"), None);
        assert_eq!(parse_cursor("x.y"), None);
    }

    #[test]
    fn rating_filters_round_trip_by_name() {
        for filter in RatingFilter::ALL {
            assert_eq!(RatingFilter::parse(filter.as_str()), Some(filter));
        }
    }
}
