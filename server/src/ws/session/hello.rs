//! The first frame: who the client is. A visitor's `hello` names a site (checked against the
//! page's origin) and maybe a token; an operator's carries a session token (and the availability
//! they chose last). The welcome says what the client may see.

use super::Session;
use crate::error::Refusal;
use crate::extract;
use crate::identity::Identity;
use crate::store::SessionStatus;
use crate::throttle::retry_after_secs;
use crate::ws::outcome::Outcome;
use protocol::visitor::{UserIdentity, VisitorContext};
use protocol::{
    Auth, ErrorCode, ServerFrame, Session as WelcomeSession, SiteId, VisitorId, PROTOCOL_VERSION,
};

impl Session {
    pub(super) async fn hello(
        &mut self,
        auth: Auth,
        page_url: Option<String>,
        context: Option<Box<VisitorContext>>,
    ) -> Outcome {
        let result = match auth {
            Auth::Visitor {
                site_id,
                token,
                user,
            } => {
                let visit = Visit {
                    page_url,
                    context,
                    user,
                };
                self.visitor_hello(site_id, token, visit).await
            }
            Auth::Operator { token, presence } => self.operator_hello(token, presence).await,
        };
        match result {
            Ok(session) => Outcome::reply(ServerFrame::Welcome {
                protocol: PROTOCOL_VERSION,
                max_message_bytes: self.state.config.max_message_bytes,
                session,
                replicates: self.state.config.peer_url.is_some(),
                log: Some(self.state.store.message_log().to_owned()),
            }),
            Err(refusal) => Outcome::refuse_and_close(refusal),
        }
    }

    async fn visitor_hello(
        &mut self,
        site_id: SiteId,
        token: Option<String>,
        visit: Visit,
    ) -> Result<WelcomeSession, Refusal> {
        let Visit {
            page_url,
            context,
            user,
        } = visit;
        let store = &self.state.store;
        let lookup = site_id.clone();
        // An unknown site and a page the site does not allow get the same answer, so site ids
        // cannot be probed from outside; the log says which it was, for the site's owner.
        let unavailable = || Refusal::forbidden("this chat is not available on this page");
        let Some(site) = store.read(move |r| r.site(&lookup)).await? else {
            tracing::info!(site = %site_id, "a visitor asked for an unknown site");
            return Err(unavailable());
        };
        if !site.allows_origin(self.origin.as_deref()) {
            let origin = self.origin.as_deref().unwrap_or("(none)");
            tracing::info!(site = %site_id, %origin, "a page the site does not allow asked for it");
            return Err(unavailable());
        }
        if let Some(user) = &user {
            self.verify_user(&site_id, user).await?;
        }
        let visitor_id = match (&user, token) {
            // A verified user is the same visitor on every device, whatever token this browser
            // kept from before they signed in.
            (Some(user), _) => crate::auth::user_visitor_id(&site_id, &user.user_id),
            (None, None) => {
                self.state
                    .visitors
                    .new_visitor(self.address)
                    .map_err(|wait| {
                        Refusal::new(
                            ErrorCode::TooManyRequests,
                            format!(
                                "too many new visitors from this address; try again in {} s",
                                retry_after_secs(&wait)
                            ),
                        )
                    })?;
                VisitorId(uuid::Uuid::now_v7())
            }
            (None, Some(token)) => extract::visitor_token(&self.state, &site_id, &token)?,
        };
        // Subscribed before the conversations are read, so nothing committed after that read is
        // missed: it is either in the welcome or in the feed.
        self.subscription = Some(self.state.hub.subscribe_visitor(visitor_id));
        let site_for_write = site_id.clone();
        // Operators see the page without its query or fragment, and so is it kept; a context
        // that breaks a bound is left out (the chat itself does not depend on it).
        let page = page_url
            .as_deref()
            .map(crate::text::page_url_for_operators)
            .filter(|p| !p.is_empty());
        let verified = user.as_ref().map(|u| u.user_id.clone());
        let context = context
            .map(|c| *c)
            .or_else(|| verified.as_ref().map(|_| VisitorContext::default()))
            .map(|mut c| {
                c.referrer = c.referrer.map(|r| crate::text::page_url_for_operators(&r));
                // Only the deployment says who a visitor is, after checking the signature.
                c.user_id = verified.clone();
                c
            })
            .filter(|c| match c.check() {
                Ok(()) => true,
                Err(why) => {
                    tracing::info!(%why, "a visitor's context was left out");
                    false
                }
            });
        store
            .write(move |w| {
                w.ensure_visitor(visitor_id, &site_for_write)?;
                w.visit(visitor_id, page.as_deref(), context.as_ref())?;
                match &user {
                    Some(u) => w.identified(visitor_id, u.name.as_deref(), u.email.as_deref()),
                    None => Ok(()),
                }
            })
            .await?;
        let (conversations, details) = store
            .read(move |r| {
                Ok((
                    r.visitor_conversations(visitor_id)?,
                    r.visitor_details(visitor_id)?,
                ))
            })
            .await?;
        let online = self.state.presence.online_for(&site_id);
        self.told_online = Some(online);
        let expires =
            self.state.now_ms() / 1000 + self.state.config.visitor_token_ttl_days * 86_400;
        let token = self.state.signer.issue(&site_id, visitor_id, expires);
        self.peer = Some(Identity::Visitor {
            visitor_id,
            site_id,
            page_url: page_url.map(|url| crate::text::page_url_for_operators(&url)),
        });
        Ok(WelcomeSession::Visitor {
            visitor_id,
            token,
            conversations,
            online,
            details,
        })
    }

    /// Refuses an identity whose signature the site's identity secret does not make, saying
    /// which part is wrong (to the page's developer, who sees it in the browser's console) and
    /// nothing about the user.
    async fn verify_user(&self, site_id: &SiteId, user: &UserIdentity) -> Result<(), Refusal> {
        user.check()
            .map_err(|why| Refusal::new(ErrorCode::Malformed, format!("identify: {why}")))?;
        let lookup = site_id.clone();
        let secret = self
            .state
            .store
            .read(move |r| r.admin_site(&lookup))
            .await?
            .and_then(|site| site.identity_secret);
        let Some(secret) = secret else {
            return Err(Refusal::unauthorized(
                "identify: this site has no identity secret yet; create one in the admin app",
            ));
        };
        if !crate::auth::user_signature_matches(&secret, &user.user_id, &user.signature) {
            tracing::info!(site = %site_id, "an identity with a wrong signature was refused");
            return Err(Refusal::unauthorized(
                "identify: the signature does not match the user id; sign it with the site's identity secret",
            ));
        }
        Ok(())
    }

    async fn operator_hello(
        &mut self,
        token: String,
        chosen: Option<protocol::Presence>,
    ) -> Result<WelcomeSession, Refusal> {
        let status = extract::session_status(&self.state, &token).await?;
        let SessionStatus::Live {
            operator,
            expires_at,
        } = status
        else {
            return Err(Refusal::unauthorized(status.ended_because()));
        };
        self.operator_session = Some((token, expires_at));
        self.subscription = Some(self.state.hub.subscribe_all());
        let scope = operator.sites.clone();
        let inbox = self.state.store.read(move |r| r.inbox(&scope)).await?;
        let presence =
            self.state
                .presence
                .console_opened(operator.id, operator.sites.clone(), chosen);
        self.console_of = Some(operator.id);
        self.peer = Some(Identity::Operator(operator.clone()));
        Ok(WelcomeSession::Operator {
            operator,
            inbox,
            presence,
            idle_away_secs: self.state.config.operator_idle_away_secs,
            files: Some(self.state.config.file_rules()),
        })
    }
}

/// What a visitor's `hello` says beside the credentials.
struct Visit {
    page_url: Option<String>,
    context: Option<Box<VisitorContext>>,
    user: Option<Box<UserIdentity>>,
}
