//! The load driver behind `tributary load` (and `up --demo`, and the
//! end-to-end tests): creates customers and stock, places orders at a fixed
//! rate with a deterministic mix of confirmations, payment declines and
//! stock rejections, waits until every saga has ended, then reports
//! outcomes, latency percentiles and the saga invariants.
//!
//! Split by role: [`schedule`] decides the run up front, [`setup`] creates
//! what it needs, [`driver`] sends on schedule, [`settle`] waits for the
//! sagas, [`invariants`] checks them, [`report`] presents the result.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tributary::load::LoadError> {
//! use std::time::Duration;
//! use tributary::load::{LoadOptions, run};
//! let report = run(LoadOptions {
//!     rate: 50.0,
//!     duration: Duration::from_secs(10),
//!     ..LoadOptions::default()
//! })
//! .await?;
//! println!("{}", report.render());
//! assert!(report.passed);
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod driver;
pub mod invariants;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod settle;
pub mod setup;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use tokio::time::Instant;
use uuid::Uuid;

pub use client::{ClientError, Endpoints, LoadClient};
pub use driver::Tokens;
pub use invariants::{InvariantResult, Observed, RunRecord, Verification};
pub use progress::{LiveStats, Observer, Phase, ProgressMode};
pub use report::{LoadReport, Outcomes, Percentiles};
pub use schedule::PlanError;
pub use setup::AdminCredentials;

use self::{
    client::{OrderStatus, Placement},
    invariants::{CustomerRef, TrackedOrder},
    progress::{Counters, Ticker},
    report::{LatencyRecorder, SendSummary, count_outcomes},
    schedule::{PlanRequest, plan},
};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub endpoints: Endpoints,
    /// Orders per second, offered on a fixed schedule.
    pub rate: f64,
    /// How long orders are sent.
    pub duration: Duration,
    /// Customers to create; `None` picks enough for the order count.
    pub users: Option<usize>,
    /// SKUs to stock (about one in ten deliberately scarce).
    pub skus: usize,
    /// Seeds the order mix; the same seed sends the same mix.
    pub seed: u64,
    pub admin: AdminCredentials,
    /// Payment tokens the simulator approves and declines.
    pub tokens: Tokens,
    /// Most placements awaiting an answer; reaching it ends the sending
    /// phase early with an overload verdict.
    pub max_in_flight: usize,
    /// Deadline of one HTTP request.
    pub request_timeout: Duration,
    /// How long to wait after the last send for every saga to end (longer
    /// than the orders service's saga timeout, 30 s by default).
    pub settle_timeout: Duration,
    /// How long the invariant check re-reads what still fails before the
    /// verdict is final (compensations trail the terminal state).
    pub check_timeout: Duration,
    /// Parallel requests during setup, settling and the check.
    pub concurrency: usize,
    pub progress: ProgressMode,
    /// Receives live progress, for callers that act on it.
    pub observer: Option<Observer>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            endpoints: Endpoints::local_defaults(),
            rate: 50.0,
            duration: Duration::from_secs(30),
            users: None,
            skus: 20,
            seed: 42,
            admin: AdminCredentials::default(),
            tokens: Tokens::default(),
            max_in_flight: 1_000,
            request_timeout: Duration::from_secs(10),
            settle_timeout: Duration::from_secs(60),
            check_timeout: Duration::from_secs(30),
            concurrency: 16,
            progress: ProgressMode::Auto,
            observer: None,
        }
    }
}

/// Why a run could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("setup failed while {step}: {source}")]
    Setup {
        step: String,
        #[source]
        source: ClientError,
    },
    #[error("setup stocked {sku} but the inventory does not know it")]
    Stock { sku: String },
}

/// Runs a load test to the end and reports. Invariant violations and
/// overload are findings in the report (`passed` is false), not errors;
/// an error means the run could not happen (bad options, setup failed).
pub async fn run(options: LoadOptions) -> Result<LoadReport, LoadError> {
    let run_id = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let sku_prefix = format!("load-{run_id}");
    let plan = plan(&PlanRequest {
        rate: options.rate,
        duration: options.duration,
        users: options.users,
        skus: options.skus,
        seed: options.seed,
        sku_prefix: &sku_prefix,
    })?;
    let client = LoadClient::new(options.endpoints.clone(), options.request_timeout)?;
    let counters = Arc::new(Counters::default());
    let ticker = Ticker::start(
        Arc::clone(&counters),
        options.progress,
        options.observer.clone(),
        plan.orders.len(),
        plan.users,
    );
    let outcome = run_phases(&options, &client, &plan, &run_id, &counters).await;
    counters.set_phase(Phase::Done);
    ticker.stop().await;
    outcome
}

async fn run_phases(
    options: &LoadOptions,
    client: &LoadClient,
    plan: &schedule::Plan,
    run_id: &str,
    counters: &Arc<Counters>,
) -> Result<LoadReport, LoadError> {
    let concurrency = options.concurrency.max(1);
    counters.set_phase(Phase::Setup);
    let prepared =
        setup::prepare(client, plan, &options.admin, run_id, concurrency, counters).await?;

    counters.set_phase(Phase::Sending);
    let sent = driver::drive(
        client,
        plan,
        &prepared,
        &options.tokens,
        options.max_in_flight,
        options.rate,
        counters,
    )
    .await;

    counters.set_phase(Phase::Settling);
    let mut record = RunRecord {
        orders: sent
            .results
            .iter()
            .filter_map(|result| {
                let id = driver::accepted_id(result)?;
                let planned = plan.orders.get(result.index)?;
                Some(TrackedOrder {
                    id,
                    customer: planned.user,
                    kind: Some(planned.kind),
                    scheduled_us: Some(result.scheduled_us),
                })
            })
            .collect(),
        customers: prepared
            .customers
            .iter()
            .map(|c| CustomerRef {
                id: c.id,
                email: c.email.clone(),
            })
            .collect(),
        stocked: prepared.stocked.clone(),
    };
    let deadline = Instant::now() + options.settle_timeout;
    let ids: Vec<Uuid> = record.orders.iter().map(|o| o.id).collect();
    settle::await_terminal(client, &ids, deadline, concurrency, counters).await;
    let known: BTreeSet<Uuid> = ids.iter().copied().collect();
    let customer_ids: Vec<Uuid> = record.customers.iter().map(|c| c.id).collect();
    let untracked = settle::discover_untracked(client, &customer_ids, &known, concurrency).await;
    if !untracked.is_empty() {
        let extra: Vec<Uuid> = untracked.iter().map(|(id, _)| *id).collect();
        settle::await_terminal(client, &extra, deadline, concurrency, counters).await;
        record
            .orders
            .extend(untracked.iter().map(|&(id, customer)| TrackedOrder {
                id,
                customer,
                kind: None,
                scheduled_us: None,
            }));
    }

    counters.set_phase(Phase::Checking);
    let verification =
        invariants::verify(client, &record, options.check_timeout, concurrency).await;
    Ok(build_report(
        options,
        plan,
        run_id,
        &sent,
        record,
        verification,
    ))
}

/// Re-checks the invariants of an earlier run (for example after its events
/// were redelivered); see [`LoadReport::record`].
pub async fn verify(options: &LoadOptions, record: &RunRecord) -> Result<Verification, LoadError> {
    let client = LoadClient::new(options.endpoints.clone(), options.request_timeout)?;
    Ok(invariants::verify(&client, record, options.check_timeout, options.concurrency).await)
}

fn build_report(
    options: &LoadOptions,
    plan: &schedule::Plan,
    run_id: &str,
    sent: &driver::Sent,
    record: RunRecord,
    verification: Verification,
) -> LoadReport {
    let mut refused: BTreeMap<u16, usize> = BTreeMap::new();
    let mut post = LatencyRecorder::default();
    let (mut accepted, mut no_answer) = (0, 0);
    for result in &sent.results {
        match result.placement {
            Placement::Accepted(_) => {
                accepted += 1;
                post.record(result.latency);
            }
            Placement::Refused(status) => *refused.entry(status.as_u16()).or_default() += 1,
            Placement::NoAnswer => no_answer += 1,
        }
    }
    let orders = &verification.orders;
    let mut outcomes = count_outcomes(record.orders.iter().map(|tracked| {
        orders
            .get(&tracked.id)
            .map_or((OrderStatus::Pending, None), |o| {
                (o.status, o.reason.as_deref())
            })
    }));
    let mut confirmed = LatencyRecorder::default();
    let mut cancelled = LatencyRecorder::default();
    for tracked in &record.orders {
        let Some(order) = orders.get(&tracked.id) else {
            continue;
        };
        match (tracked.kind, tracked.scheduled_us) {
            (Some(kind), Some(scheduled_us)) => {
                if kind.expected() != (order.status, order.reason.as_deref()) {
                    outcomes.unexpected += 1;
                }
                if let Some(decided_at) = order.decided_at {
                    let latency = decided_at.saturating_mul(1_000) - scheduled_us;
                    match order.status {
                        OrderStatus::Confirmed => confirmed.record_micros(latency),
                        OrderStatus::Cancelled => cancelled.record_micros(latency),
                        OrderStatus::Pending | OrderStatus::Unknown => {}
                    }
                }
            }
            _ => outcomes.untracked += 1,
        }
    }
    let sending = sent.window.as_secs_f64().max(1e-9);
    let send = SendSummary {
        planned: plan.orders.len(),
        sent: sent.results.len(),
        accepted,
        refused,
        no_answer,
        offered_rate: options.rate,
        achieved_rate: sent.results.len() as f64 / sending,
        max_send_lag_ms: sent.max_send_lag.as_secs_f64() * 1_000.0,
        overload: sent.overload.clone(),
    };
    let passed = verification.holds() && send.overload.is_none();
    LoadReport {
        run_id: run_id.to_owned(),
        seed: options.seed,
        duration_s: options.duration.as_secs_f64(),
        customers: record.customers.len(),
        skus: plan.skus.len(),
        send,
        outcomes,
        saga_latency_ms: confirmed.percentiles(),
        cancelled_latency_ms: cancelled.percentiles(),
        post_latency_ms: post.percentiles(),
        invariants: verification.invariants,
        passed,
        record,
        observed: verification.observed,
    }
}
