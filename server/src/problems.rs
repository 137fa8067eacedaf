//! Configuration mistakes this deployment has noticed, each with the sentence that says what to
//! change. They are found on the replication link's first exchange (a wrong secret, a peer URL
//! leading back here, two deployments with one name, token secrets that differ), shown in
//! `/health` to callers with the operations secret (the moderator puts them on its status page)
//! and logged once when they appear and once when they go away.

use protocol::ConfigProblem;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One kind of mistake. Each kind is held at most once, with the latest details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The peer answered our replication request with 401.
    SecretRefused {
        /// The configured peer URL.
        peer_url: String,
    },
    /// Someone asked for our log with a missing or wrong replication secret.
    SecretWrong,
    /// The configured peer URL reaches this very deployment.
    PeerIsSelf {
        /// The configured peer URL.
        peer_url: String,
    },
    /// The peer carries our name, so the two logs could not be told apart.
    SameName {
        /// The shared name.
        name: String,
    },
    /// The peer signs tokens with another secret: a visitor or operator moving between the two
    /// would be refused.
    TokenSecretsDiffer {
        /// The peer's name.
        peer: String,
    },
}

impl Problem {
    /// The stable name tools branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::SecretRefused { .. } => "replication_secret_refused",
            Problem::SecretWrong => "replication_secret_wrong",
            Problem::PeerIsSelf { .. } => "peer_is_self",
            Problem::SameName { .. } => "same_name",
            Problem::TokenSecretsDiffer { .. } => "token_secrets_differ",
        }
    }

    /// What is wrong and what to change.
    pub fn message(&self) -> String {
        match self {
            Problem::SecretRefused { peer_url } => format!(
                "the peer at {peer_url} refused our replication secret: set the same \
                 replication_secret on both deployments"
            ),
            Problem::SecretWrong => "a caller asked for our log with a missing or wrong \
                 replication secret: if it is the peer, set the same replication_secret on both \
                 deployments"
                .into(),
            Problem::PeerIsSelf { peer_url } => format!(
                "peer_url {peer_url} leads back to this deployment: set it to the other \
                 deployment's address"
            ),
            Problem::SameName { name } => format!(
                "the peer is also named {name:?}: give each deployment its own name \
                 (deployment = \"primary\" on one, \"redundant\" on the other)"
            ),
            Problem::TokenSecretsDiffer { peer } => format!(
                "{peer} signs tokens with another token_secret, so visitors and operators moving \
                 between the deployments would be refused: set the same token_secret on both"
            ),
        }
    }
}

/// The mistakes noticed and not yet resolved.
#[derive(Default)]
pub struct Problems {
    held: Mutex<BTreeMap<&'static str, Problem>>,
}

impl Problems {
    /// Records `problem`, logging it when it is new or its details changed.
    pub fn raise(&self, problem: Problem) {
        let mut held = self.held.lock().expect("problems lock");
        if held.get(problem.code()) != Some(&problem) {
            tracing::error!(problem = problem.code(), "{}", problem.message());
            held.insert(problem.code(), problem);
        }
    }

    /// Forgets the problem of kind `code` (an exchange showed it fixed), logging that it is.
    pub fn resolve(&self, code: &str) {
        let mut held = self.held.lock().expect("problems lock");
        if held.remove(code).is_some() {
            tracing::info!(problem = code, "configuration problem resolved");
        }
    }

    /// What `/health` shows.
    pub fn report(&self) -> Vec<ConfigProblem> {
        let held = self.held.lock().expect("problems lock");
        held.values()
            .map(|p| ConfigProblem {
                code: p.code().to_owned(),
                message: p.message(),
            })
            .collect()
    }
}

/// Checks what the other end of a replication link said about itself against this deployment,
/// raising what is wrong and resolving what is right. Returns the mistake that makes the link
/// useless (pulling our own log, or a log under our name), for the caller to end it; differing
/// token secrets leave replication working and are only reported.
pub fn check_introduction(
    problems: &Problems,
    ours: &protocol::replication::Introduction,
    our_name: &str,
    peer_name: &str,
    peer_url: Option<&str>,
    theirs: Option<&protocol::replication::Introduction>,
) -> Option<Problem> {
    if theirs.is_some_and(|t| t.instance == ours.instance) {
        let problem = Problem::PeerIsSelf {
            peer_url: peer_url.unwrap_or("(this deployment's own)").to_owned(),
        };
        problems.raise(problem.clone());
        return Some(problem);
    }
    problems.resolve("peer_is_self");
    if peer_name == our_name {
        let problem = Problem::SameName {
            name: our_name.to_owned(),
        };
        problems.raise(problem.clone());
        return Some(problem);
    }
    problems.resolve("same_name");
    // A peer from before the check says nothing; nothing can be concluded then.
    if let Some(theirs) = theirs {
        if theirs.token_check == ours.token_check {
            problems.resolve("token_secrets_differ");
        } else {
            problems.raise(Problem::TokenSecretsDiffer {
                peer: peer_name.to_owned(),
            });
        }
    }
    None
}
