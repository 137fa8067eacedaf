//! The admin app's records: sites with their settings and removals, and the team (operators
//! with their settings, removals and passwords). Reads are [`Reader`] methods, writes [`Writer`]
//! methods that record a change (applied in [`super::changes`]). The rules that need the
//! database (an id used once, the last admin) are checked here, inside the write's transaction.

use super::accounts::{operator_capacity, operator_flags, operator_from_row, OPERATOR_COLUMNS};
use super::rows::{self, Cached};
use super::{Reader, Site, StoreError, Writer};
use protocol::admin::{AdminOperator, AdminSite, OperatorState, SiteForms, SiteScope};
use protocol::replication::{Change, OperatorSetting, SiteSetting};
use protocol::routing::RoutingMode;
use protocol::{OperatorId, OperatorProfile, OperatorRole, SiteId};
use rusqlite::OptionalExtension;

impl Reader<'_> {
    /// A site's settings as stored (each absent until first set).
    fn site_settings(&self, id: &SiteId) -> Result<Vec<SiteSetting>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM site_settings WHERE site_id = ?1")?;
        let settings = stmt.query_map([&id.0], |row| {
            rows::parsed(row, 0, "site setting", |s| {
                serde_json::from_str::<SiteSetting>(s)
            })
        })?;
        Ok(settings.collect::<Result<_, _>>()?)
    }

    /// A site's forms (the defaults until an admin sets them).
    pub fn site_forms(&self, id: &SiteId) -> Result<SiteForms, StoreError> {
        let found = self
            .conn
            .query_row_cached(
                "SELECT value FROM site_settings WHERE site_id = ?1 AND key = 'forms'",
                [&id.0],
                |row| {
                    rows::parsed(row, 0, "site setting", |s| {
                        serde_json::from_str::<SiteSetting>(s)
                    })
                },
            )
            .optional()?;
        Ok(match found {
            Some(SiteSetting::Forms(forms)) => forms,
            _ => SiteForms::default(),
        })
    }

    /// A site as admins see it, with the defaults for settings never set; `None` when it does
    /// not exist or was removed.
    pub fn admin_site(&self, id: &SiteId) -> Result<Option<AdminSite>, StoreError> {
        let Some(site) = self.site(id)? else {
            return Ok(None);
        };
        let mut admin = AdminSite {
            id: site.id,
            name: site.name,
            allowed_origins: site.allowed_origins,
            identity_secret: None,
            appearance: Default::default(),
            forms: SiteForms::default(),
            routing: RoutingMode::Manual,
        };
        for setting in self.site_settings(id)? {
            match setting {
                SiteSetting::Appearance(appearance) => admin.appearance = appearance,
                SiteSetting::Forms(forms) => admin.forms = forms,
                SiteSetting::IdentitySecret(secret) => admin.identity_secret = Some(secret),
                SiteSetting::Routing(mode) => admin.routing = mode,
            }
        }
        Ok(Some(admin))
    }

    /// Every site that was not removed, by id.
    pub fn admin_sites(&self) -> Result<Vec<AdminSite>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM sites WHERE id NOT IN (SELECT id FROM site_tombstones) ORDER BY id",
        )?;
        let ids = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut sites = Vec::with_capacity(ids.len());
        for id in ids {
            sites.extend(self.admin_site(&SiteId(id))?);
        }
        Ok(sites)
    }

    /// Whether a site with this id exists or once did (its id is not given out again).
    pub fn site_id_used(&self, id: &SiteId) -> Result<bool, StoreError> {
        Ok(self.conn.exists_cached(
            "SELECT 1 FROM sites WHERE id = ?1 UNION ALL SELECT 1 FROM site_tombstones WHERE id = ?1",
            [&id.0],
        )?)
    }

    /// An operator as admins see them; `None` when unknown or removed.
    pub fn admin_operator(&self, id: OperatorId) -> Result<Option<AdminOperator>, StoreError> {
        let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators o WHERE o.id = ?1");
        let found = self
            .conn
            .query_row_cached(&sql, [id.to_string()], admin_operator_from_row)
            .optional()?;
        Ok(found.flatten())
    }

    /// The team: every operator not removed, admins first, then by name and e-mail address.
    pub fn admin_operators(&self) -> Result<Vec<AdminOperator>, StoreError> {
        let sql = format!(
            "SELECT {OPERATOR_COLUMNS} FROM operators o ORDER BY o.role, o.name COLLATE NOCASE, o.email"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let team = stmt.query_map([], admin_operator_from_row)?;
        Ok(team
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    /// An operator's password hash and the clock value of their record (what an invitation
    /// names), unless removed.
    pub fn operator_secret(&self, id: OperatorId) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT password_hash, hlc FROM operators WHERE id = ?1
                 AND id NOT IN (SELECT id FROM operator_tombstones)",
                [id.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// How many admins other than `except` may log in.
    fn other_active_admins(&self, except: OperatorId) -> Result<usize, StoreError> {
        Ok(self
            .admin_operators()?
            .iter()
            .filter(|o| {
                o.id != except && o.role == OperatorRole::Admin && o.state == OperatorState::Active
            })
            .count())
    }
}

/// An operator from [`OPERATOR_COLUMNS`], or `None` when removed.
fn admin_operator_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<AdminOperator>> {
    let profile = operator_from_row(row, 0)?;
    let (disabled, removed) = operator_flags(row, 0)?;
    Ok((!removed).then_some(AdminOperator {
        id: profile.id,
        email: profile.email,
        name: profile.name,
        role: profile.role,
        state: match disabled {
            true => OperatorState::Disabled,
            false => OperatorState::Active,
        },
        sites: profile.sites,
        capacity: operator_capacity(row, 0)?,
    }))
}

/// The refusal for an action that would leave nobody able to administer the deployment.
fn last_admin(what: &str) -> StoreError {
    StoreError::Conflict(format!(
        "{what} would leave no admin who can log in; make someone else an admin first"
    ))
}

impl Writer<'_> {
    /// Creates a site with its identity secret; refused when the id is taken or was used by a
    /// removed site.
    pub fn create_site(&self, site: &Site, identity_secret: String) -> Result<(), StoreError> {
        if self.site_id_used(&site.id)? {
            return Err(StoreError::Conflict(format!(
                "the site id `{}` is taken (by this site or one removed); choose another",
                site.id
            )));
        }
        self.upsert_site(site)?;
        self.set_site_setting(&site.id, SiteSetting::IdentitySecret(identity_secret))
    }

    /// Changes a site's name and origins.
    pub fn edit_site(&self, site: &Site) -> Result<(), StoreError> {
        self.site(&site.id)?.ok_or(StoreError::NotFound("site"))?;
        self.upsert_site(site)
    }

    /// Sets one of a site's settings.
    pub fn set_site_setting(&self, id: &SiteId, setting: SiteSetting) -> Result<(), StoreError> {
        self.site(id)?.ok_or(StoreError::NotFound("site"))?;
        self.record(Change::SiteSettingSet {
            site_id: id.clone(),
            setting,
        })?;
        Ok(())
    }

    /// Removes a site (its conversations stay).
    pub fn remove_site(&self, id: &SiteId) -> Result<(), StoreError> {
        self.site(id)?.ok_or(StoreError::NotFound("site"))?;
        self.record(Change::SiteRemoved { id: id.clone() })?;
        Ok(())
    }

    /// The account behind `id`, unless removed.
    fn live_operator(&self, id: OperatorId) -> Result<AdminOperator, StoreError> {
        self.admin_operator(id)?
            .ok_or(StoreError::NotFound("operator"))
    }

    /// Changes an operator's name, role or password hash (absent ones stay). A new role or
    /// password ends their sessions; nobody demotes the last admin.
    pub fn edit_operator(
        &self,
        id: OperatorId,
        name: Option<&str>,
        role: Option<OperatorRole>,
        password_hash: Option<&str>,
    ) -> Result<(), StoreError> {
        let current = self.live_operator(id)?;
        let (stored_hash, _) = self
            .operator_secret(id)?
            .ok_or(StoreError::NotFound("operator"))?;
        let role = role.unwrap_or(current.role);
        if current.role == OperatorRole::Admin
            && role != OperatorRole::Admin
            && current.state == OperatorState::Active
            && self.other_active_admins(id)? == 0
        {
            return Err(last_admin("Making this admin an agent"));
        }
        let password_hash = password_hash.unwrap_or(&stored_hash);
        self.record(Change::OperatorUpserted {
            id,
            email: current.email,
            name: name.unwrap_or(&current.name).to_owned(),
            password_hash: password_hash.to_owned(),
            ends_sessions: role != current.role || password_hash != stored_hash,
            role,
        })?;
        Ok(())
    }

    /// Sets one of an operator's settings; nobody disables the last admin.
    pub fn set_operator_setting(
        &self,
        id: OperatorId,
        setting: OperatorSetting,
    ) -> Result<(), StoreError> {
        let current = self.live_operator(id)?;
        if setting == OperatorSetting::Disabled(true)
            && current.role == OperatorRole::Admin
            && self.other_active_admins(id)? == 0
        {
            return Err(last_admin("Disabling this admin"));
        }
        self.record(Change::OperatorSettingSet {
            operator_id: id,
            setting,
        })?;
        Ok(())
    }

    /// Removes an operator; nobody removes the last admin.
    pub fn remove_operator(&self, id: OperatorId) -> Result<(), StoreError> {
        let current = self.live_operator(id)?;
        if current.role == OperatorRole::Admin
            && current.state == OperatorState::Active
            && self.other_active_admins(id)? == 0
        {
            return Err(last_admin("Removing this admin"));
        }
        self.record(Change::OperatorRemoved { id })?;
        Ok(())
    }

    /// Creates an operator serving `sites`.
    pub fn create_operator(
        &self,
        (email, name, password_hash): (&str, &str, &str),
        role: OperatorRole,
        sites: SiteScope,
    ) -> Result<OperatorProfile, StoreError> {
        let mut profile = self.add_operator(email, name, password_hash, role, false)?;
        if sites != SiteScope::All {
            self.record(Change::OperatorSettingSet {
                operator_id: profile.id,
                setting: OperatorSetting::Sites(sites.clone()),
            })?;
        }
        profile.sites = sites;
        Ok(profile)
    }
}
