//! The moderator's driver around the [`Decider`]: every `check_interval_ms` it probes both
//! deployments' `/health` at once, feeds the results in, and for every decision that comes out it
//! (1) appends it to the decision log and waits for the disk, (2) publishes it on `/v1/active`, and
//! (3) pushes it to both deployments. Admin commands (pin, release) arrive on a channel and go
//! through the same path.
//!
//! A deployment is healthy when `/health` answers 200 with `ok: true` within the probe timeout;
//! anything else (refused, slow, garbage, 503) is a failed probe. The primary counts as caught up
//! when its own report says its pull link from the redundant deployment is up with nothing inbound
//! behind **and** the redundant deployment's report, from the same round, says the primary has
//! confirmed everything it wrote (`outbound_behind == 0`).
//!
//! Pushes are repeated until each deployment reports (in `/health`) the epoch in force, so a
//! restarted deployment learns the decision again within one probe interval.

use crate::config::{Config, Endpoint};
use crate::decision::{Decider, Decision, Deployment, Probe, Reason};
use crate::error::ModeratorError;
use crate::log::{DecisionLog, LogError};
use daemon::http::{HttpClient, Method};
use protocol::moderation::{ActiveDeployment, DeploymentInfo, DeploymentRole, KnownRole};
use protocol::replication::ReplicationStatus;
use protocol::HealthReport;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// What a deployment's `/health` answer says: the report if it is one, and why the deployment
/// counts as failed if it does. Whatever the bytes, this returns (it is fuzzed:
/// `cargo xtask fuzz`).
pub fn read_health(status: u16, body: &[u8]) -> (Option<HealthReport>, Option<String>) {
    match serde_json::from_slice::<HealthReport>(body) {
        Err(e) => (
            None,
            Some(format!("status {status}, unreadable report: {e}")),
        ),
        Ok(report) if status == 200 && report.ok => (Some(report), None),
        Ok(report) => {
            let reason = report.error.clone().unwrap_or_default();
            (
                Some(report),
                Some(format!("status {status}, not ok: {reason}")),
            )
        }
    }
}

/// The last probe of one deployment, as shown on `/v1/status`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProbeReport {
    /// When it was taken (ms since the Unix epoch).
    pub at_ms: u64,
    /// Whether it succeeded.
    pub healthy: bool,
    /// How long it took, in ms.
    pub latency_ms: u64,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The deployment's replication report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationStatus>,
    /// The newest decision the deployment knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<KnownRole>,
}

/// One deployment on `/v1/status`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeploymentStatus {
    /// Its id.
    pub id: String,
    /// Its base URL.
    pub url: String,
    /// Primary or redundant.
    pub role: DeploymentRole,
    /// Whether the moderator counts it as up (after hysteresis).
    pub up: bool,
    /// Whether it is the active one.
    pub active: bool,
    /// The last probe, once there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_probe: Option<ProbeReport>,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// The decision in force, as published on `/v1/active`.
    pub active: ActiveDeployment,
    /// Why it was taken.
    pub reason: Reason,
    /// When it was taken (ms since the Unix epoch).
    pub decided_at_ms: u64,
    /// Both deployments, primary first.
    pub deployments: Vec<DeploymentStatus>,
    /// The latest decisions from the log, oldest first.
    pub recent_decisions: Vec<Decision>,
    /// Configuration mistakes seen in the latest probes, with what to change.
    pub problems: Vec<protocol::ConfigProblem>,
}

/// An admin command.
#[derive(Clone, Copy, Debug)]
pub enum Command {
    /// Makes `Deployment` active until released (planned downtime).
    Pin(Deployment),
    /// Lets the automatic rules decide again.
    Release,
}

struct Request {
    command: Command,
    reply: oneshot::Sender<Result<ActiveDeployment, ModeratorError>>,
}

/// What the HTTP handlers share with the driver. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    status: Arc<Mutex<Status>>,
    commands: mpsc::Sender<Request>,
    /// The configuration the moderator started with.
    pub config: Arc<Config>,
}

impl Handle {
    /// The current status.
    pub fn status(&self) -> Status {
        self.status.lock().expect("status lock").clone()
    }

    /// The decision in force.
    pub fn active(&self) -> ActiveDeployment {
        self.status.lock().expect("status lock").active.clone()
    }

    /// Runs an admin command; answers once the resulting decision is logged.
    pub async fn command(&self, command: Command) -> Result<ActiveDeployment, ModeratorError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Request { command, reply })
            .await
            .map_err(|_| ModeratorError::ShuttingDown)?;
        answer.await.map_err(|_| ModeratorError::ShuttingDown)?
    }
}

/// A clock that is monotonic yet reads as Unix milliseconds: the wall time at start plus the time
/// elapsed since, so decision times are readable and the failback hold is immune to clock jumps.
#[derive(Clone, Copy)]
struct Clock {
    started: Instant,
    started_unix_ms: u64,
}

impl Clock {
    fn new() -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            started: Instant::now(),
            started_unix_ms: unix,
        }
    }

    fn now_ms(&self) -> u64 {
        self.started_unix_ms + self.started.elapsed().as_millis() as u64
    }

    fn instant_at(&self, ms: u64) -> Instant {
        self.started + Duration::from_millis(ms.saturating_sub(self.started_unix_ms))
    }
}

/// The running moderator's loop; see the module documentation.
pub struct Driver {
    config: Arc<Config>,
    clock: Clock,
    decider: Decider,
    log: DecisionLog,
    client: HttpClient,
    status: Arc<Mutex<Status>>,
    commands: mpsc::Receiver<Request>,
    pushes: mpsc::Sender<(Deployment, Result<KnownRole, ModeratorError>)>,
    push_results: mpsc::Receiver<(Deployment, Result<KnownRole, ModeratorError>)>,
    push_in_flight: [bool; 2],
    /// The epoch each deployment last reported knowing.
    known_epochs: [u64; 2],
    /// Where a probe round's task hands its results (primary first), and where the loop reads them.
    rounds: mpsc::Sender<[Probed; 2]>,
    round_results: mpsc::Receiver<[Probed; 2]>,
    /// Whether a probe round is under way.
    round_in_flight: bool,
    /// Whether a tick came while a round was under way: the next round then starts as soon as
    /// that one ends, as the interval would have had it (a silent deployment makes each round
    /// last the whole probe timeout, longer than the interval).
    round_missed: bool,
}

const BOTH: [Deployment; 2] = [Deployment::Primary, Deployment::Redundant];

fn index(deployment: Deployment) -> usize {
    match deployment {
        Deployment::Primary => 0,
        Deployment::Redundant => 1,
    }
}

/// Opens the decision log and prepares the driver and the handle the HTTP API uses.
pub fn open(config: Config, client: HttpClient) -> Result<(Handle, Driver), LogError> {
    let config = Arc::new(config);
    let clock = Clock::new();
    let mut log = DecisionLog::open(&config.log_path())?;
    let now = clock.now_ms();
    let mut decider = match log.last() {
        Some(last) => {
            tracing::info!(epoch = last.epoch, active = ?last.active, "resuming from the decision log");
            Decider::restore(config.thresholds(), last, now)
        }
        None => Decider::new(config.thresholds(), now),
    };
    // The initial decision of a fresh moderator is logged before anything is published.
    while let Some(decision) = decider.poll_decision() {
        log.append(decision)?;
    }
    let current = decider.current();
    let status = Status {
        active: publishable(&config, current),
        reason: current.reason,
        decided_at_ms: current.at_ms,
        deployments: BOTH
            .iter()
            .map(|&d| {
                let endpoint = endpoint(&config, d);
                DeploymentStatus {
                    id: endpoint.id.clone(),
                    url: endpoint.url.clone(),
                    role: role_of(d),
                    up: decider.is_up(d),
                    active: current.active == d,
                    last_probe: None,
                }
            })
            .collect(),
        recent_decisions: log.recent().to_vec(),
        problems: Vec::new(),
    };
    let status = Arc::new(Mutex::new(status));
    let (command_sender, commands) = mpsc::channel(16);
    let (pushes, push_results) = mpsc::channel(8);
    let (rounds, round_results) = mpsc::channel(1);
    let handle = Handle {
        status: status.clone(),
        commands: command_sender,
        config: config.clone(),
    };
    let driver = Driver {
        config,
        clock,
        decider,
        log,
        client,
        status,
        commands,
        pushes,
        push_results,
        push_in_flight: [false; 2],
        known_epochs: [0; 2],
        rounds,
        round_results,
        round_in_flight: false,
        round_missed: false,
    };
    Ok((handle, driver))
}

fn endpoint(config: &Config, deployment: Deployment) -> &Endpoint {
    match deployment {
        Deployment::Primary => &config.primary,
        Deployment::Redundant => &config.redundant,
    }
}

fn role_of(deployment: Deployment) -> DeploymentRole {
    match deployment {
        Deployment::Primary => DeploymentRole::Primary,
        Deployment::Redundant => DeploymentRole::Redundant,
    }
}

/// A decision in the form published on `/v1/active` and pushed to deployments.
pub fn publishable(config: &Config, decision: Decision) -> ActiveDeployment {
    let active = endpoint(config, decision.active);
    ActiveDeployment {
        epoch: decision.epoch,
        active: active.id.clone(),
        url: active.url.clone(),
        pinned: decision.pinned.is_some(),
        deployments: BOTH
            .iter()
            .map(|&d| DeploymentInfo {
                id: endpoint(config, d).id.clone(),
                url: endpoint(config, d).url.clone(),
                role: role_of(d),
            })
            .collect(),
    }
}

struct Probed {
    report: ProbeReport,
    health: Option<HealthReport>,
}

impl Driver {
    /// Runs until `shutdown` resolves. Fails only when the decision log cannot be written: a
    /// decision that is not on disk must not be published (a restart could hand out its epoch
    /// again), so the moderator stops and clients carry on without it.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), LogError> {
        self.publish()?;
        let mut ticks = tokio::time::interval(Duration::from_millis(self.config.check_interval_ms));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            let wake = self
                .decider
                .poll_timeout()
                .map(|ms| self.clock.instant_at(ms))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = ticks.tick() => self.start_round(),
                Some([primary, redundant]) = self.round_results.recv() => {
                    self.round_in_flight = false;
                    self.apply_round(primary, redundant)?;
                    if std::mem::take(&mut self.round_missed) {
                        self.start_round();
                    }
                }
                Some(request) = self.commands.recv() => {
                    let now = self.clock.now_ms();
                    match request.command {
                        Command::Pin(deployment) => self.decider.pin(deployment, now),
                        Command::Release => self.decider.release(now),
                    }
                    self.publish()?;
                    let _ = request.reply.send(Ok(publishable(&self.config, self.decider.current())));
                }
                Some((deployment, result)) = self.push_results.recv() => {
                    self.push_in_flight[index(deployment)] = false;
                    match result {
                        Ok(known) => self.known_epochs[index(deployment)] = known.epoch,
                        Err(reason) => tracing::debug!(?deployment, %reason, "pushing the decision failed"),
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    self.decider.handle_timeout(self.clock.now_ms());
                    self.publish()?;
                }
                _ = &mut shutdown => return Ok(()),
            }
        }
    }

    /// Starts probing both deployments at once, in a task of its own: a deployment that accepts
    /// connections and never answers holds a round for the whole probe timeout, and the loop must
    /// go on answering admin commands meanwhile (a pin of the live deployment is what an operator
    /// reaches for exactly then).
    fn start_round(&mut self) {
        if self.round_in_flight {
            self.round_missed = true;
            return;
        }
        self.round_in_flight = true;
        let (client, config, clock, results) = (
            self.client.clone(),
            self.config.clone(),
            self.clock,
            self.rounds.clone(),
        );
        tokio::spawn(async move {
            let (primary, redundant) = tokio::join!(
                probe(&client, &config, clock, Deployment::Primary),
                probe(&client, &config, clock, Deployment::Redundant)
            );
            let _ = results.send([primary, redundant]).await;
        });
    }

    /// Feeds a round's results to the decider, the redundant deployment first so the primary's
    /// `caught_up` can use its report from the same round.
    fn apply_round(&mut self, primary: Probed, redundant: Probed) -> Result<(), LogError> {
        let now = self.clock.now_ms();
        let redundant_confirmed = redundant
            .health
            .as_ref()
            .and_then(|h| h.replication.as_ref())
            .is_some_and(|r| r.outbound_behind == 0);
        let primary_applied = primary
            .health
            .as_ref()
            .and_then(|h| h.replication.as_ref())
            .is_some_and(|r| r.peer_reachable && r.inbound_behind == 0 && !r.rebuilding);
        for (deployment, probed, caught_up) in [
            (Deployment::Redundant, &redundant, false),
            (
                Deployment::Primary,
                &primary,
                primary_applied && redundant_confirmed,
            ),
        ] {
            if let Some(known) = probed.health.as_ref().and_then(|h| h.role.as_ref()) {
                self.known_epochs[index(deployment)] = known.epoch;
                self.decider.observe_epoch(known.epoch, now);
            }
            self.decider.handle_probe(
                Probe {
                    deployment,
                    healthy: probed.report.healthy,
                    caught_up,
                },
                now,
            );
        }
        {
            let mut status = self.status.lock().expect("status lock");
            let problems = crate::problems::found(
                [&self.config.primary, &self.config.redundant],
                [primary.health.as_ref(), redundant.health.as_ref()],
                self.config.deployment_secret.is_some(),
            );
            for new in problems.iter().filter(|p| !status.problems.contains(p)) {
                tracing::error!(problem = %new.code, "{}", new.message);
            }
            status.problems = problems;
            status.deployments[0].last_probe = Some(primary.report);
            status.deployments[1].last_probe = Some(redundant.report);
        }
        self.publish()
    }

    /// Logs every new decision, then updates what `/v1/active` and `/v1/status` show, then pushes
    /// the decision in force to each deployment that does not know it yet.
    fn publish(&mut self) -> Result<(), LogError> {
        let mut changed = false;
        while let Some(decision) = self.decider.poll_decision() {
            self.log.append(decision)?;
            crate::telemetry::decided(&decision);
            tracing::info!(
                epoch = decision.epoch,
                active = ?decision.active,
                reason = ?decision.reason,
                pinned = ?decision.pinned,
                "decision"
            );
            changed = true;
        }
        let current = self.decider.current();
        {
            let mut status = self.status.lock().expect("status lock");
            if changed {
                status.active = publishable(&self.config, current);
                status.reason = current.reason;
                status.decided_at_ms = current.at_ms;
                status.recent_decisions = self.log.recent().to_vec();
            }
            for (shown, deployment) in status.deployments.iter_mut().zip(BOTH) {
                shown.up = self.decider.is_up(deployment);
                shown.active = current.active == deployment;
                crate::telemetry::deployment_state(&shown.id, shown.up, shown.active);
            }
            crate::telemetry::problems(status.problems.len());
        }
        self.push_stale();
        Ok(())
    }

    fn push_stale(&mut self) {
        let Some(secret) = self.config.deployment_secret.clone() else {
            return;
        };
        let current = self.decider.current();
        let body = serde_json::to_vec(&publishable(&self.config, current)).expect("serialises");
        for deployment in BOTH {
            let i = index(deployment);
            if self.push_in_flight[i] || self.known_epochs[i] >= current.epoch {
                continue;
            }
            self.push_in_flight[i] = true;
            let url = format!(
                "{}{}",
                endpoint(&self.config, deployment).url.trim_end_matches('/'),
                protocol::moderation::ROLE_PATH
            );
            let (client, body, secret, results) = (
                self.client.clone(),
                body.clone(),
                secret.clone(),
                self.pushes.clone(),
            );
            let timeout = Duration::from_millis(self.config.probe_timeout_ms);
            tokio::spawn(async move {
                let result = client
                    .call(Method::POST, &url, Some(&secret), Some(body), timeout)
                    .await
                    .map_err(ModeratorError::from)
                    .and_then(|answer| {
                        if answer.status == 200 {
                            serde_json::from_slice::<KnownRole>(&answer.body).map_err(|source| {
                                ModeratorError::Unreadable {
                                    status: answer.status,
                                    source,
                                }
                            })
                        } else {
                            Err(ModeratorError::Status {
                                status: answer.status,
                                body: String::from_utf8_lossy(&answer.body).into_owned(),
                            })
                        }
                    });
                let _ = results.send((deployment, result)).await;
            });
        }
    }
}

/// One probe of `deployment`'s `/health`, bounded by the probe timeout.
async fn probe(
    client: &HttpClient,
    config: &Config,
    clock: Clock,
    deployment: Deployment,
) -> Probed {
    let url = format!(
        "{}/health",
        endpoint(config, deployment).url.trim_end_matches('/')
    );
    let started = Instant::now();
    let at_ms = clock.now_ms();
    let answer = client
        .call(
            Method::GET,
            &url,
            // The deployment shows its replication state and the decision it knows (what
            // failback and re-pushes need) only to callers holding this secret.
            config.deployment_secret.as_deref(),
            None,
            Duration::from_millis(config.probe_timeout_ms),
        )
        .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    crate::telemetry::probed(&endpoint(config, deployment).id, started.elapsed());
    let (health, error) = match answer {
        Err(reason) => (None, Some(reason.to_string())),
        Ok(answer) => read_health(answer.status, &answer.body),
    };
    Probed {
        report: ProbeReport {
            at_ms,
            healthy: error.is_none(),
            latency_ms,
            error,
            replication: health.as_ref().and_then(|h| h.replication.clone()),
            role: health.as_ref().and_then(|h| h.role.clone()),
        },
        health,
    }
}
