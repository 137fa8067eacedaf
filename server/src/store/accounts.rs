//! Accounts: sites, operators, operator sessions and visitors. Reads are [`Reader`] methods, writes
//! [`Writer`] methods that record a change (applied in [`super::changes`]).

use super::rows::{self, Cached};
use super::{Reader, StoreError, Writer};
use crate::auth::SessionClaims;
use protocol::admin::SiteScope;
use protocol::replication::{Change, OperatorSetting};
use protocol::{OperatorId, OperatorProfile, OperatorRole, SiteId, VisitorId};
use rusqlite::{OptionalExtension, Row};

/// A site as its owner configured it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The slug the snippet carries.
    pub id: SiteId,
    /// The name shown in the widget's header.
    pub name: String,
    /// Origins (`https://shop.example`) whose pages may embed the widget, in the form
    /// [`normalise_origin`] gives them, or [`ANY_ORIGIN`] alone to allow every page. Empty allows
    /// none.
    pub allowed_origins: Vec<String>,
}

/// The entry that lets pages of every origin (and clients that send no `Origin`) open visitor
/// sessions: only ever stored because the site's owner asked for it explicitly.
pub const ANY_ORIGIN: &str = "*";

impl Site {
    /// Whether a client whose upgrade request carried `origin` may open a visitor session on this
    /// site. Browsers always send `Origin` on a WebSocket upgrade, so a missing one is a
    /// non-browser client, allowed only where every origin is.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.iter().any(|o| o == ANY_ORIGIN) {
            return true;
        }
        let Some(origin) = origin else {
            return false;
        };
        self.allowed_origins
            .iter()
            .any(|o| o.trim_end_matches('/') == origin)
    }
}

/// An origin as browsers send it in `Origin` (`https://shop.example`, `http://localhost:8080`:
/// scheme, host and a port other than the scheme's default, international names in their ASCII
/// form), or a sentence saying why `text` is not one.
pub fn normalise_origin(text: &str) -> Result<String, String> {
    let url =
        url::Url::parse(text.trim()).map_err(|e| format!("`{text}` is not an origin: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{text}` is not an origin: only http and https pages embed the chat"
        ));
    }
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    if !bare || !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{text}` is not an origin: give only the scheme, host and port, such as https://shop.example"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

/// What a session token is worth now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    /// Valid until `expires_at` (Unix milliseconds, the deployment's clock).
    Live {
        /// Its operator, as they are now.
        operator: OperatorProfile,
        /// When it expires.
        expires_at: i64,
    },
    /// Its operator logged out with it (here or on the peer).
    LoggedOut,
    /// Past its expiry.
    Expired,
    /// Its operator's password or role changed after it was created.
    AccountChanged,
    /// Never seen here: forged, purged, or created on the peer and not replicated yet.
    Unknown,
    /// An admin disabled its operator.
    Disabled,
    /// An admin removed its operator.
    Removed,
}

impl SessionStatus {
    /// The sentence the console shows when this ends an operator's connection.
    pub fn ended_because(&self) -> &'static str {
        match self {
            SessionStatus::Live { .. } => "signed in",
            SessionStatus::LoggedOut => "Signed out: this session was logged out.",
            SessionStatus::Expired => "Signed out: your session expired.",
            SessionStatus::AccountChanged => {
                "Signed out: your password or role changed; please log in again."
            }
            SessionStatus::Unknown => "Signed out: this session is not valid.",
            SessionStatus::Disabled => "Signed out: an admin disabled your account.",
            SessionStatus::Removed => "Signed out: an admin removed your account.",
        }
    }
}

/// The operator columns, in the order [`operator_from_row`] and [`operator_flags`] read them,
/// for a table aliased `o`: the profile (with the sites they serve), then whether the account is
/// disabled and whether it was removed.
pub(super) const OPERATOR_COLUMNS: &str = "o.id, o.name, o.email, o.role,
    (SELECT x.value FROM operator_settings x WHERE x.operator_id = o.id AND x.key = 'sites'),
    COALESCE((SELECT json_extract(x.value, '$.value') FROM operator_settings x
              WHERE x.operator_id = o.id AND x.key = 'disabled'), 0),
    EXISTS (SELECT 1 FROM operator_tombstones t WHERE t.id = o.id),
    COALESCE((SELECT json_extract(x.value, '$.value') FROM operator_settings x
              WHERE x.operator_id = o.id AND x.key = 'capacity'), 0)";
/// How many columns [`OPERATOR_COLUMNS`] has.
pub(super) const OPERATOR_COLUMN_COUNT: usize = 8;

/// An operator's profile from the [`OPERATOR_COLUMNS`] starting at `first`.
pub(super) fn operator_from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<OperatorProfile> {
    let sites = match rows::optional_json::<OperatorSetting>(row, first + 4, "operator sites")? {
        Some(OperatorSetting::Sites(scope)) => scope,
        Some(_) | None => SiteScope::All,
    };
    Ok(OperatorProfile {
        id: OperatorId(rows::uuid(row, first, "operator id")?),
        name: row.get(first + 1)?,
        email: row.get(first + 2)?,
        role: rows::parsed(row, first + 3, "operator role", |s| {
            OperatorRole::parse(s).ok_or("not a role")
        })?,
        sites,
    })
}

/// Whether the account of the [`OPERATOR_COLUMNS`] starting at `first` is (disabled, removed).
pub(super) fn operator_flags(row: &Row<'_>, first: usize) -> rusqlite::Result<(bool, bool)> {
    Ok((row.get(first + 5)?, row.get(first + 6)?))
}

/// The capacity (0: no limit) of the account of the [`OPERATOR_COLUMNS`] starting at `first`.
pub(super) fn operator_capacity(row: &Row<'_>, first: usize) -> rusqlite::Result<u32> {
    row.get(first + 7)
}

/// What a login checks: the account, its password hash, and whether it is disabled.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The account.
    pub operator: OperatorProfile,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Disabled by an admin: the right password still does not log in.
    pub disabled: bool,
}

impl Reader<'_> {
    /// Looks a site up; a removed site is not found.
    pub fn site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT name, allowed_origins FROM sites WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM site_tombstones t WHERE t.id = ?1)",
                [&id.0],
                |row| {
                    Ok(Site {
                        id: id.clone(),
                        name: row.get(0)?,
                        allowed_origins: rows::parsed(row, 1, "site allowed_origins", |s| {
                            serde_json::from_str::<Vec<String>>(s)
                        })?,
                    })
                },
            )
            .optional()?)
    }

    /// Whether a visitor is known here.
    pub fn visitor_known(&self, id: VisitorId) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .exists_cached("SELECT 1 FROM visitors WHERE id = ?1", [id.to_string()])?)
    }

    /// Finds an operator's credentials by e-mail (case-insensitive). A removed operator's
    /// address is free, so they are not found.
    pub fn operator_by_email(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let sql = format!(
            "SELECT {OPERATOR_COLUMNS}, o.password_hash FROM operators o WHERE o.email = ?1"
        );
        Ok(self
            .conn
            .query_row_cached(&sql, [email], |row| {
                Ok(Credentials {
                    operator: operator_from_row(row, 0)?,
                    password_hash: row.get(OPERATOR_COLUMN_COUNT)?,
                    disabled: operator_flags(row, 0)?.0,
                })
            })
            .optional()?)
    }

    /// Whether a session is live at `now_ms` (the deployment's clock), and if not, why: what an
    /// operator's `hello` and open socket check, and what the console is told when it ends.
    ///
    /// `claimed` is what the session's signed token says, once its signature checked. It stands
    /// in for the record while the record has not arrived from the deployment where the
    /// operator logged in: the operator must be known here, the token not logged out, and no
    /// new password or role may have come after it. The record, once here, decides.
    pub fn session_status(
        &self,
        token_hash: &str,
        now_ms: i64,
        claimed: Option<&SessionClaims>,
    ) -> Result<SessionStatus, StoreError> {
        let sql = format!(
            "SELECT {OPERATOR_COLUMNS}, s.expires_at, s.hlc >= o.sessions_from
             FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
             WHERE s.token_hash = ?1"
        );
        let found = self
            .conn
            .query_row_cached(&sql, [token_hash], |row| {
                let n = OPERATOR_COLUMN_COUNT;
                let account = (operator_from_row(row, 0)?, operator_flags(row, 0)?);
                Ok((account, row.get(n)?, row.get(n + 1)?))
            })
            .optional()?;
        Ok(match found {
            Some(((_, (_, true)), _, _)) => SessionStatus::Removed,
            Some(((_, (true, _)), _, _)) => SessionStatus::Disabled,
            Some((_, _, false)) => SessionStatus::AccountChanged,
            Some((_, expires_at, true)) if expires_at <= now_ms => SessionStatus::Expired,
            Some(((operator, _), expires_at, true)) => SessionStatus::Live {
                operator,
                expires_at,
            },
            None if self.session_tombstoned(token_hash)? => SessionStatus::LoggedOut,
            None => match claimed {
                Some(claims) => self.claimed_session(claims, now_ms)?,
                None => SessionStatus::Unknown,
            },
        })
    }

    /// A session known only from its signed token (see [`Reader::session_status`]).
    fn claimed_session(
        &self,
        claims: &SessionClaims,
        now_ms: i64,
    ) -> Result<SessionStatus, StoreError> {
        if claims.expires_at <= now_ms {
            return Ok(SessionStatus::Expired);
        }
        let sql =
            format!("SELECT {OPERATOR_COLUMNS}, o.sessions_from FROM operators o WHERE o.id = ?1");
        let found: Option<(OperatorProfile, (bool, bool), i64)> = self
            .conn
            .query_row_cached(&sql, [claims.operator_id.to_string()], |row| {
                Ok((
                    operator_from_row(row, 0)?,
                    operator_flags(row, 0)?,
                    row.get(OPERATOR_COLUMN_COUNT)?,
                ))
            })
            .optional()?;
        Ok(match found {
            None => SessionStatus::Unknown,
            Some((_, (_, true), _)) => SessionStatus::Removed,
            Some((_, (true, _), _)) => SessionStatus::Disabled,
            Some((_, _, sessions_from))
                if i64::try_from(claims.hlc).unwrap_or(i64::MAX) < sessions_from =>
            {
                SessionStatus::AccountChanged
            }
            Some((operator, _, _)) => SessionStatus::Live {
                operator,
                expires_at: claims.expires_at,
            },
        })
    }

    /// Whether the session with this token hash was logged out.
    fn session_tombstoned(&self, token_hash: &str) -> Result<bool, StoreError> {
        Ok(self.conn.exists_cached(
            "SELECT 1 FROM session_tombstones WHERE token_hash = ?1",
            [token_hash],
        )?)
    }
}

impl Writer<'_> {
    /// Creates or updates a site.
    pub fn upsert_site(&self, site: &Site) -> Result<(), StoreError> {
        self.record(Change::SiteUpserted {
            id: site.id.clone(),
            name: site.name.clone(),
            allowed_origins: site.allowed_origins.clone(),
        })?;
        Ok(())
    }

    /// Records a visitor if it is not known yet (a valid token may name a visitor this database
    /// has not seen, for example one created on the other deployment and not replicated yet).
    pub fn ensure_visitor(&self, id: VisitorId, site: &SiteId) -> Result<(), StoreError> {
        if !self.visitor_known(id)? {
            self.record(Change::VisitorSeen {
                id,
                site_id: site.clone(),
            })?;
        }
        Ok(())
    }

    /// Creates an operator; fails with [`StoreError::Conflict`] when the e-mail is taken, unless
    /// `replace` is set, in which case the existing account's name, password and role are updated.
    pub fn add_operator(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
        role: OperatorRole,
        replace: bool,
    ) -> Result<OperatorProfile, StoreError> {
        let (id, ends_sessions) = match self.operator_by_email(email)? {
            Some(_) if !replace => {
                return Err(StoreError::Conflict(format!(
                    "an operator with e-mail {email} already exists"
                )))
            }
            // Whoever knew the old password, or held the old role, is signed out.
            Some(existing) => (
                existing.operator.id,
                existing.password_hash != password_hash || existing.operator.role != role,
            ),
            None => (OperatorId(uuid::Uuid::now_v7()), false),
        };
        self.record(Change::OperatorUpserted {
            id,
            email: email.to_owned(),
            name: name.to_owned(),
            password_hash: password_hash.to_owned(),
            role,
            ends_sessions,
        })?;
        Ok(OperatorProfile {
            id,
            name: name.into(),
            email: email.into(),
            role,
            sites: SiteScope::All,
        })
    }

    /// Stores a new operator session under the hash of its token.
    pub fn create_session(
        &self,
        token_hash: &str,
        operator: OperatorId,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.record(Change::SessionCreated {
            token_hash: token_hash.to_owned(),
            operator_id: operator,
            expires_at,
        })?;
        Ok(())
    }

    /// Forgets sessions that expired more than two days before `now_ms`: a local clean-up, not an
    /// event (an expired session is worth nothing on either deployment, and each purges its
    /// own). A creation event arriving later for a purged session stores it expired, and the
    /// next purge takes it. Returns how many went.
    pub fn purge_expired_sessions(&self, now_ms: i64) -> Result<usize, StoreError> {
        Ok(self.conn().execute_cached(
            "DELETE FROM operator_sessions WHERE expires_at <= ?1",
            [now_ms - 2 * 86_400_000],
        )?)
    }

    /// Ends a session (logout). Ending an unknown session is not an error.
    pub fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.record(Change::SessionDeleted {
            token_hash: token_hash.to_owned(),
        })?;
        Ok(())
    }
}
