//! How the store reads stored values: every statement through the connection's statement cache,
//! and every column that must parse (ids, roles, states, author kinds, JSON) parsed **fail
//! closed**. A value that does not parse is an error naming the column, which becomes
//! [`StoreError::Corrupt`]: it is logged and the request refused, never replaced by a permissive
//! default (an unreadable list of allowed origins must not allow every origin).

use super::StoreError;
use rusqlite::types::Type;
use rusqlite::{Connection, Row};

/// `execute` and `query_row` through the connection's statement cache. Plain `Connection::execute`
/// parses its SQL on every call; on the write path, where every message runs a dozen statements,
/// the parsing cost more than the work. Every store query goes through these.
pub trait Cached {
    /// [`Connection::execute`], with the statement prepared once per connection.
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    /// [`Connection::query_row`], with the statement prepared once per connection.
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>;
    /// Whether the query (a `SELECT 1 ... WHERE ...`) finds a row.
    fn exists_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<bool> {
        use rusqlite::OptionalExtension;
        Ok(self
            .query_row_cached(sql, params, |_| Ok(()))
            .optional()?
            .is_some())
    }
}

impl Cached for Connection {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// A stored value that does not parse: carried inside rusqlite's conversion error out of a row
/// closure, and turned into [`StoreError::Corrupt`] by the `From` conversion below.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {detail}")]
struct Unreadable {
    what: &'static str,
    detail: String,
}

/// The error a row closure returns for a column that does not parse.
pub fn unreadable(index: usize, what: &'static str, detail: impl ToString) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        Type::Text,
        Box::new(Unreadable {
            what,
            detail: detail.to_string(),
        }),
    )
}

/// A text column parsed by `parse`, failing closed with `what` as the column's name.
pub fn parsed<T, E: ToString>(
    row: &Row<'_>,
    index: usize,
    what: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).map_err(|e| unreadable(index, what, format!("{text:?}: {}", e.to_string())))
}

/// A nullable text column holding JSON, parsed when present, failing closed like [`parsed`].
pub fn optional_json<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
    what: &'static str,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|e| unreadable(index, what, format!("{text:?}: {e}")))
    })
    .transpose()
}

/// A UUID column.
pub fn uuid(row: &Row<'_>, index: usize, what: &'static str) -> rusqlite::Result<uuid::Uuid> {
    parsed(row, index, what, uuid::Uuid::parse_str)
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::FromSqlConversionFailure(index, _, cause) => StoreError::Corrupt {
                what: match cause.downcast_ref::<Unreadable>() {
                    Some(unreadable) => unreadable.what.to_owned(),
                    None => format!("column {index}"),
                },
                detail: cause.to_string(),
            },
            other => StoreError::Sqlite(other),
        }
    }
}
