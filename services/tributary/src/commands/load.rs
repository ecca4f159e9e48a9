//! `tributary load`: places orders at a fixed rate against a running
//! platform and checks the saga invariants afterwards. The work is in
//! [`crate::load`]; this file maps flags to [`LoadOptions`] and the report
//! to output and an exit code.

use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::{
    commands::{run::Service, up::Instance},
    load::{self, AdminCredentials, Endpoints, LoadOptions, LoadReport, ProgressMode, Tokens},
};

/// Arguments of `tributary load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Orders per second, sent on a fixed schedule whether or not earlier
    /// orders were answered.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// How long to send orders, e.g. `30s`, `2m`.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The public gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub gateway: String,
    /// Customers to create (default: enough for the order count, at least 10).
    #[arg(long)]
    pub users: Option<usize>,
    /// SKUs to stock; about one in ten is deliberately scarce so that some
    /// orders are rejected.
    #[arg(long, default_value_t = 20)]
    pub skus: usize,
    /// Seed of the order mix: the same seed sends the same mix.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print the report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
    /// Most orders awaiting an answer before the run stops as overloaded.
    #[arg(long, default_value_t = 1_000)]
    pub max_in_flight: usize,
    /// How long to wait after the last send for every saga to end.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub settle_timeout: Duration,
    /// How long the invariant check re-reads what still fails (payments,
    /// stock and notifications trail the orders' terminal state).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub check_timeout: Duration,
    /// The inventory service's API (invariant check).
    #[arg(long, default_value = "http://127.0.0.1:8092")]
    pub inventory_url: String,
    /// The payments service's API (invariant check).
    #[arg(long, default_value = "http://127.0.0.1:8093")]
    pub payments_url: String,
    /// The orders service's API (settling and invariant check).
    #[arg(long, default_value = "http://127.0.0.1:8094")]
    pub orders_url: String,
    /// The notifications service's API (invariant check).
    #[arg(long, default_value = "http://127.0.0.1:8095")]
    pub notifications_url: String,
    /// Administrator e-mail (stock administration).
    #[arg(long, env = "TRIBUTARY_ADMIN_EMAIL", default_value = tributary_users::DEFAULT_ADMIN_EMAIL)]
    pub admin_email: String,
    /// Administrator password.
    #[arg(long, env = "TRIBUTARY_ADMIN_PASSWORD", default_value = tributary_users::DEFAULT_ADMIN_PASSWORD, hide_default_value = true)]
    pub admin_password: String,
    /// Payment token the simulator declines (`payments.provider.decline_token`).
    #[arg(long, default_value = "tok_decline")]
    pub decline_token: String,
}

impl LoadArgs {
    /// The library options these flags describe.
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            endpoints: Endpoints {
                gateway: self.gateway.clone(),
                inventory: self.inventory_url.clone(),
                payments: self.payments_url.clone(),
                orders: self.orders_url.clone(),
                notifications: self.notifications_url.clone(),
            },
            rate: self.rate,
            duration: self.duration,
            users: self.users,
            skus: self.skus,
            seed: self.seed,
            admin: AdminCredentials {
                email: self.admin_email.clone(),
                password: self.admin_password.clone(),
            },
            tokens: Tokens {
                decline: self.decline_token.clone(),
                ..Tokens::default()
            },
            max_in_flight: self.max_in_flight,
            settle_timeout: self.settle_timeout,
            check_timeout: self.check_timeout,
            progress: if self.quiet {
                ProgressMode::Quiet
            } else {
                ProgressMode::Auto
            },
            ..LoadOptions::default()
        }
    }
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let report = load::run(args.options())
        .await
        .context("the load run could not start")?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render());
    }
    verdict(&report)
}

/// Ok when the run passed; otherwise an error saying why (the exit code).
pub fn verdict(report: &LoadReport) -> anyhow::Result<()> {
    if !report.invariants_hold() {
        let failed: Vec<String> = report
            .invariants
            .iter()
            .filter(|i| !i.holds)
            .map(|i| format!("{} ({} violations)", i.number, i.violations))
            .collect();
        anyhow::bail!("saga invariants violated: {}", failed.join(", "));
    }
    if let Some(overload) = &report.send.overload {
        anyhow::bail!("overloaded: {overload}");
    }
    Ok(())
}

/// `tributary up --demo`: one load run against the platform `up` just
/// started, its report printed among `up`'s output, while `up` keeps
/// running until Ctrl-C.
#[derive(Debug)]
pub struct Demo {
    /// Resolves to whether every invariant held (a run that could not start
    /// or was overloaded is reported but is not an invariant failure).
    task: tokio::task::JoinHandle<bool>,
}

impl Demo {
    /// Starts the demo run against `instances` (the first instance of each
    /// service).
    pub fn start(instances: &[Instance], rate: f64, duration: Duration) -> Demo {
        let url = |service: Service| {
            instances
                .iter()
                .find(|i| i.service == service)
                .map(Instance::url)
                .unwrap_or_default()
        };
        let options = LoadOptions {
            endpoints: Endpoints {
                gateway: url(Service::Gateway),
                inventory: url(Service::Inventory),
                payments: url(Service::Payments),
                orders: url(Service::Orders),
                notifications: url(Service::Notifications),
            },
            rate,
            duration,
            ..LoadOptions::default()
        };
        let task = tokio::spawn(async move {
            println!("Demo: placing {rate} orders/s for {duration:?} through the gateway…");
            match load::run(options).await {
                Ok(report) => {
                    print!("{}", report.render());
                    let holds = report.invariants_hold();
                    if holds {
                        println!("Demo finished: every invariant holds. Press Ctrl-C to stop.");
                    } else {
                        println!(
                            "DEMO FAILED: saga invariants were violated (see above); `up` keeps \
                             running for inspection and will exit with an error. Press Ctrl-C \
                             to stop."
                        );
                    }
                    holds
                }
                Err(error) => {
                    println!("Demo could not run: {error:#}. Press Ctrl-C to stop.");
                    true
                }
            }
        });
        Demo { task }
    }

    /// Ok unless the run finished and found invariant violations; a run
    /// still going (Ctrl-C came first) is abandoned.
    pub async fn finish(self) -> anyhow::Result<()> {
        if !self.task.is_finished() {
            self.task.abort();
            return Ok(());
        }
        match self.task.await {
            Ok(false) => anyhow::bail!("the demo load run found saga invariant violations"),
            Ok(true) | Err(_) => Ok(()),
        }
    }
}
