//! The `moderator` binary: runs the moderator, and drives a running one from the command line
//! (manual failover for planned downtime).

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use daemon::http::{HttpClient, Method};
use moderator::config::{Config, Overrides};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "moderator",
    about = "Watches the two live chat deployments and says which one is active",
    version
)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    /// The running moderator to talk to (admin commands); by default the configured listen
    /// address.
    #[arg(long, env = "LIVECHAT_MODERATOR_URL", global = true)]
    moderator_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the moderator (the default).
    Serve,
    /// Make a deployment active and keep it so until `release` (planned downtime). Needs the
    /// admin secret.
    Failover {
        /// `primary` or `redundant` (or a deployment's id).
        #[arg(long)]
        to: String,
    },
    /// Remove the pin: the automatic rules decide again. Needs the admin secret.
    Release,
    /// Print the running moderator's status as JSON.
    Status,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(&cli.overrides)?;
    daemon::logging::init(config.log_format, "moderator", "info");
    daemon::metrics::install(&[]);
    moderator::telemetry::describe();
    let runtime = tokio::runtime::Runtime::new()?;
    let moderator_url = cli
        .moderator_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve(config)),
        Command::Failover { to } => runtime.block_on(admin(
            &moderator_url,
            "/v1/admin/failover",
            config.admin_secret.as_deref(),
            Some(serde_json::json!({ "to": to })),
        )),
        Command::Release => runtime.block_on(admin(
            &moderator_url,
            "/v1/admin/release",
            config.admin_secret.as_deref(),
            None,
        )),
        Command::Status => runtime.block_on(async {
            let answer = HttpClient::default()
                .call(
                    Method::GET,
                    &format!("{}/v1/status", moderator_url.trim_end_matches('/')),
                    None,
                    None,
                    Duration::from_secs(10),
                )
                .await?;
            println!("{}", String::from_utf8_lossy(&answer.body));
            Ok(())
        }),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    if config.deployment_secret.is_none() {
        tracing::warn!("no deployment_secret: decisions are published on /v1/active but not pushed to the deployments");
    }
    // Probes and pushes verify `https://` deployments with the system roots and the CA file.
    let client = HttpClient::with_tls(daemon::tls::client_config(config.tls_ca_file.as_deref())?);
    let tls = match (&config.tls_cert_file, &config.tls_key_file) {
        (Some(cert), Some(key)) => Some(daemon::tls::server_config(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (handle, driver) = moderator::service::open(config, client)?;
    let app = moderator::api::router(handle);
    // The line below is read by tests and tools to learn the bound port; keep its shape.
    println!("moderator listening on {scheme}://{address}");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        let mut stopped = stopped;
        daemon::listen::serve(listener, app, tls, async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
    });
    let result = driver.run(daemon::shutdown_signal()).await;
    let _ = stop.send(true);
    let _ = server.await;
    result.context("the decision log cannot be written; stopping so no decision is published that a restart could forget")?;
    tracing::info!("moderator stopped");
    Ok(())
}

async fn admin(
    moderator_url: &str,
    path: &str,
    secret: Option<&str>,
    body: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    let Some(secret) = secret else {
        bail!("the admin secret is needed: set LIVECHAT_MODERATOR_ADMIN_SECRET or pass --admin-secret");
    };
    let url = format!("{}{path}", moderator_url.trim_end_matches('/'));
    let body = serde_json::to_vec(&body.unwrap_or_else(|| serde_json::json!({})))?;
    let answer = HttpClient::default()
        .call(
            Method::POST,
            &url,
            Some(secret),
            Some(body),
            Duration::from_secs(10),
        )
        .await
        .with_context(|| format!("cannot reach the moderator at {moderator_url}"))?;
    let text = String::from_utf8_lossy(&answer.body);
    if answer.status != 200 {
        bail!("the moderator refused (status {}): {text}", answer.status);
    }
    println!("{text}");
    Ok(())
}
