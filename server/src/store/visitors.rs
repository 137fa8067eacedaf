//! Visitor context: the pages a visitor opens and what their browser said, recorded when their
//! widget says hello, and read for the operators' context panel.

use super::rows::{self, Cached};
use super::{Reader, StoreError, Writer};
use protocol::replication::Change;
use protocol::visitor::{PageView, VisitorContext, VisitorContextView, PAGES_SHOWN};
use protocol::VisitorId;
use rusqlite::OptionalExtension;
use std::collections::BTreeMap;

/// How long without a new page ends a visit.
const VISIT_GAP_MS: i64 = 30 * 60 * 1000;

impl Reader<'_> {
    /// What the visitor's browser said last, if anything.
    pub fn visitor_context(
        &self,
        visitor: VisitorId,
    ) -> Result<Option<VisitorContext>, StoreError> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT value FROM visitor_contexts WHERE visitor_id = ?1",
                [visitor.to_string()],
                |row| {
                    rows::parsed(row, 0, "visitor context", |s| {
                        serde_json::from_str::<VisitorContext>(s)
                    })
                },
            )
            .optional()?)
    }

    /// The pages of the visitor's latest visit, newest first (a visit ends after half an hour
    /// without a new page), a page opened again at once (a reconnection, a failover, a reload)
    /// shown once.
    pub fn page_views(&self, visitor: VisitorId) -> Result<Vec<PageView>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT url, at FROM page_views WHERE visitor_id = ?1
             ORDER BY at DESC, origin DESC, origin_seq DESC LIMIT 200",
        )?;
        let all = stmt
            .query_map([visitor.to_string()], |row| {
                Ok(PageView {
                    url: row.get(0)?,
                    at: row.get(1)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut pages: Vec<PageView> = Vec::new();
        for page in all {
            if pages
                .last()
                .is_some_and(|later| later.at - page.at > VISIT_GAP_MS)
            {
                break;
            }
            // Newest first: the same URL just after is the same stay on the page, kept at its
            // first moment.
            let full = pages.len() == PAGES_SHOWN;
            match pages.last_mut() {
                Some(later) if later.url == page.url => later.at = page.at,
                _ if full => break,
                _ => pages.push(page),
            }
        }
        Ok(pages)
    }

    /// Everything operators see of a visitor; `None` when unknown.
    pub fn visitor_context_view(
        &self,
        visitor: VisitorId,
    ) -> Result<Option<(protocol::SiteId, VisitorContextView)>, StoreError> {
        let found: Option<(String, i64)> = self
            .conn
            .query_row_cached(
                "SELECT site_id, created_at FROM visitors WHERE id = ?1",
                [visitor.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((site, first_seen_at)) = found else {
            return Ok(None);
        };
        Ok(Some((
            protocol::SiteId(site),
            VisitorContextView {
                visitor_id: visitor,
                details: self.visitor_details(visitor)?,
                context: self.visitor_context(visitor)?,
                pages: self.page_views(visitor)?,
                conversations: self.visitor_conversations(visitor)?,
                first_seen_at,
            },
        )))
    }
}

impl Writer<'_> {
    /// Notes a visitor's hello: the page they are on, unless it is the page they were last seen
    /// on here (a reconnection), and their browser's context, unless unchanged.
    pub fn visit(
        &self,
        visitor_id: VisitorId,
        page: Option<&str>,
        context: Option<&VisitorContext>,
    ) -> Result<(), StoreError> {
        if let Some(url) = page {
            let last: Option<String> = self
                .conn
                .query_row_cached(
                    "SELECT url FROM page_views WHERE visitor_id = ?1 ORDER BY at DESC, origin DESC, origin_seq DESC LIMIT 1",
                    [visitor_id.to_string()],
                    |row| row.get(0),
                )
                .optional()?;
            if last.as_deref() != Some(url) {
                let url = url.to_owned();
                self.record(Change::PageViewed { visitor_id, url })?;
            }
        }
        if let Some(context) = context {
            let stored = self.visitor_context(visitor_id)?;
            let mut context = context.clone();
            // Once verified, a visitor stays that user (their id is derived from the user's):
            // a later page that does not identify them again does not make them anonymous.
            if context.user_id.is_none() {
                context.user_id = stored.as_ref().and_then(|c| c.user_id.clone());
            }
            self.set_context(visitor_id, stored.as_ref(), context)?;
        }
        Ok(())
    }

    /// The visitor's custom attributes (`setAttributes`) replace the stored ones; the rest of the
    /// context stays.
    pub fn set_attributes(
        &self,
        visitor_id: VisitorId,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let stored = self.visitor_context(visitor_id)?;
        let context = VisitorContext {
            attributes,
            ..stored.clone().unwrap_or_default()
        };
        self.set_context(visitor_id, stored.as_ref(), context)
    }

    /// A verified user's name and e-mail address (`identify`) become their details, keeping
    /// what they answered in forms; recorded only when either changes.
    pub fn identified(
        &self,
        visitor_id: VisitorId,
        name: Option<&str>,
        email: Option<&str>,
    ) -> Result<(), StoreError> {
        if name.is_none() && email.is_none() {
            return Ok(());
        }
        let stored = self.visitor_details(visitor_id)?;
        let mut details = stored.clone().unwrap_or_default();
        if let Some(name) = name {
            details.name = Some(name.to_owned());
        }
        if let Some(email) = email {
            details.email = Some(email.to_owned());
        }
        if stored.as_ref() != Some(&details) {
            self.record(Change::VisitorDetailsSet {
                visitor_id,
                details,
            })?;
        }
        Ok(())
    }

    /// Records `context` unless it is what is stored already.
    fn set_context(
        &self,
        visitor_id: VisitorId,
        stored: Option<&VisitorContext>,
        context: VisitorContext,
    ) -> Result<(), StoreError> {
        if stored != Some(&context) {
            self.record(Change::VisitorContextSet {
                visitor_id,
                context,
            })?;
        }
        Ok(())
    }
}
