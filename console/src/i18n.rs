//! The console's texts, read from `console/locales/en.txt` through the same catalogue format
//! and code as the widget's ([`browser::i18n`]), so a translator edits one kind of file for both
//! apps. Only English exists for operators today; the catalogue is compiled in, because the
//! console is one download for people who use it all day and a second fetch would only delay it.

use browser::i18n::{fill, Catalog};

thread_local! {
    static ENGLISH: Catalog = Catalog::parse(include_str!("../locales/en.txt"));
}

/// The text of `key`; the bare key when the catalogue lacks it (the tidy test prevents that).
pub fn t(key: &str) -> String {
    ENGLISH.with(|e| {
        e.get(key)
            .map(str::to_owned)
            .unwrap_or_else(|| key.to_owned())
    })
}

/// [`t`] with its `{name}` values filled in.
pub fn t_with(key: &str, values: &[(&str, &str)]) -> String {
    fill(&t(key), values)
}

/// How the console names a conversation's state (the wire name stays in `data-state`).
pub fn conversation_state(state: protocol::ConversationState) -> String {
    use protocol::ConversationState as S;
    match state {
        S::Waiting => t("state.waiting"),
        S::Active => t("state.active"),
        S::Closed => t("state.closed"),
    }
}

/// How the console names its own connection.
pub fn connection(state: crate::state::ConnectionState) -> String {
    use crate::state::ConnectionState as S;
    match state {
        S::LoggedOut => t("state.logged_out"),
        S::Connecting => t("state.connecting"),
        S::Online => t("state.online"),
        S::Offline => t("state.offline"),
    }
}

/// How the team list names a role.
pub fn role(role: protocol::OperatorRole) -> String {
    match role {
        protocol::OperatorRole::Admin => t("team.role_admin"),
        protocol::OperatorRole::Agent => t("team.role_agent"),
    }
}

/// How the team list names an account's state.
pub fn operator_state(state: protocol::admin::OperatorState) -> String {
    use protocol::admin::OperatorState as S;
    match state {
        S::Active => t("team.state_active"),
        S::Disabled => t("team.state_disabled"),
    }
}

/// How the history's filter names a rating choice.
pub fn rating_filter(filter: protocol::history::RatingFilter) -> String {
    use protocol::history::RatingFilter as R;
    match filter {
        R::Good => t("history.rating_good"),
        R::Bad => t("history.rating_bad"),
        R::Rated => t("history.rating_rated"),
        R::Unrated => t("history.rating_unrated"),
    }
}

/// How the failover card names a deployment's configured role.
pub fn deployment_role(role: protocol::moderation::DeploymentRole) -> String {
    use protocol::moderation::DeploymentRole as R;
    match role {
        R::Primary => t("failover.role_primary"),
        R::Redundant => t("failover.role_redundant"),
    }
}
