//! Configuration mistakes the moderator can see from its probes, next to those each deployment
//! reports about its link: shown on `/v1/status` and the status page with what to change.

use crate::config::Endpoint;
use protocol::{ConfigProblem, HealthReport};

/// What is wrong with the pair, as far as the latest probe of each deployment shows (primary
/// first). A deployment that did not answer says nothing about its configuration.
pub fn found(
    endpoints: [&Endpoint; 2],
    health: [Option<&HealthReport>; 2],
    holds_secret: bool,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (endpoint, report) in endpoints.iter().zip(health) {
        let Some(report) = report else { continue };
        // A deployment shows its decision and replication to the moderator's secret only;
        // without them failback can never happen, so the silence is a mistake to fix.
        if holds_secret && report.role.is_none() {
            problems.push(ConfigProblem {
                code: "moderator_secret_refused".into(),
                message: format!(
                    "{} at {} did not accept the moderator's deployment_secret: set its \
                     moderator_secret to the same value",
                    endpoint.id, endpoint.url
                ),
            });
        }
        if let Some(name) = report.replication.as_ref().map(|r| &r.deployment) {
            if *name != endpoint.id {
                problems.push(ConfigProblem {
                    code: "name_mismatch".into(),
                    message: format!(
                        "the deployment at {} is named {name:?}, not {:?}: correct the \
                         moderator's deployment list or the deployment's name",
                        endpoint.url, endpoint.id
                    ),
                });
            }
        }
        problems.extend(report.problems.iter().map(|p| ConfigProblem {
            code: p.code.clone(),
            message: format!("{}: {}", endpoint.id, p.message),
        }));
    }
    let names = health.map(|h| {
        h.and_then(|h| h.replication.as_ref())
            .map(|r| &r.deployment)
    });
    if let [Some(first), Some(second)] = names {
        if first == second {
            problems.push(ConfigProblem {
                code: "same_name".into(),
                message: format!(
                    "{} and {} are both named {first:?}: give each deployment its own name",
                    endpoints[0].url, endpoints[1].url
                ),
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::moderation::KnownRole;
    use protocol::replication::ReplicationStatus;

    fn endpoint(id: &str) -> Endpoint {
        Endpoint {
            id: id.into(),
            url: format!("http://{id}.example"),
        }
    }

    fn detailed(name: &str) -> HealthReport {
        HealthReport {
            ok: true,
            protocol: protocol::PROTOCOL_VERSION,
            error: None,
            replication: Some(ReplicationStatus {
                deployment: name.into(),
                ..ReplicationStatus::default()
            }),
            role: Some(KnownRole {
                epoch: 1,
                active: None,
            }),
            backup: None,
            problems: Vec::new(),
        }
    }

    fn codes(problems: &[ConfigProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn a_pair_set_up_right_has_no_problem() {
        let (a, b) = (endpoint("primary"), endpoint("redundant"));
        let (ha, hb) = (detailed("primary"), detailed("redundant"));
        assert!(found([&a, &b], [Some(&ha), Some(&hb)], true).is_empty());
        // A deployment that did not answer says nothing about its configuration.
        assert!(found([&a, &b], [Some(&ha), None], true).is_empty());
    }

    #[test]
    fn names_secrets_and_the_deployments_own_reports_are_listed() {
        let (a, b) = (endpoint("primary"), endpoint("redundant"));
        let same = detailed("primary");
        let problems = found([&a, &b], [Some(&same), Some(&same)], true);
        assert_eq!(codes(&problems), ["name_mismatch", "same_name"]);
        assert!(problems[0].message.contains("http://redundant.example"));

        let mut refused = detailed("redundant");
        refused.role = None;
        refused.replication = None;
        let mut reporting = detailed("primary");
        reporting.problems.push(ConfigProblem {
            code: "token_secrets_differ".into(),
            message: "set the same token_secret on both".into(),
        });
        let problems = found([&a, &b], [Some(&reporting), Some(&refused)], true);
        assert_eq!(
            codes(&problems),
            ["token_secrets_differ", "moderator_secret_refused"]
        );
        assert_eq!(
            problems[0].message,
            "primary: set the same token_secret on both"
        );
        // Without a secret of its own the moderator expects no details.
        assert!(found([&a, &b], [Some(&reporting), Some(&refused)], false).len() == 1);
    }
}
