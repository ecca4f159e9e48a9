//! Live progress of a run: counters the phases bump, a ticker that turns
//! them into a progress bar on a terminal or a plain line every few seconds
//! otherwise (logs, CI), and an optional watch channel for callers that
//! want to act on progress (tests that kill a process mid-run, `up --demo`).

use std::{
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
    time::Duration,
};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    Bar,
    Lines,
    /// Nothing (tests, `--json` consumers that capture stderr).
    Quiet,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Setup,
    Sending,
    Settling,
    Checking,
    Done,
}

impl Phase {
    fn from_u8(value: u8) -> Phase {
        match value {
            0 => Phase::Setup,
            1 => Phase::Sending,
            2 => Phase::Settling,
            3 => Phase::Checking,
            _ => Phase::Done,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Sending => "sending",
            Phase::Settling => "settling",
            Phase::Checking => "checking",
            Phase::Done => "done",
        }
    }
}

/// A snapshot of a run's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LiveStats {
    pub phase: Phase,
    pub customers: usize,
    pub planned_customers: usize,
    pub planned: usize,
    pub sent: usize,
    pub accepted: usize,
    pub refused: usize,
    pub no_answer: usize,
    pub in_flight: usize,
    /// Accepted orders seen in a terminal state (settling phase).
    pub terminal: usize,
}

/// The counters the phases update (lock-free: the driver bumps them from
/// many tasks).
#[derive(Debug, Default)]
pub struct Counters {
    phase: AtomicU8,
    pub customers: AtomicUsize,
    pub sent: AtomicUsize,
    pub accepted: AtomicUsize,
    pub refused: AtomicUsize,
    pub no_answer: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub terminal: AtomicUsize,
}

impl Counters {
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    pub fn bump(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self, planned: usize, planned_customers: usize) -> LiveStats {
        let get = |c: &AtomicUsize| c.load(Ordering::Relaxed);
        LiveStats {
            phase: Phase::from_u8(self.phase.load(Ordering::Relaxed)),
            customers: get(&self.customers),
            planned_customers,
            planned,
            sent: get(&self.sent),
            accepted: get(&self.accepted),
            refused: get(&self.refused),
            no_answer: get(&self.no_answer),
            in_flight: get(&self.in_flight),
            terminal: get(&self.terminal),
        }
    }
}

/// A watch channel a caller can subscribe to before starting a run.
#[derive(Debug, Clone)]
pub struct Observer(Arc<watch::Sender<LiveStats>>);

impl Observer {
    /// A new observer and the receiving end to wait on.
    pub fn new() -> (Observer, watch::Receiver<LiveStats>) {
        let (sender, receiver) = watch::channel(LiveStats::default());
        (Observer(Arc::new(sender)), receiver)
    }

    fn publish(&self, stats: LiveStats) {
        self.0.send_if_modified(|current| {
            let changed = *current != stats;
            *current = stats;
            changed
        });
    }
}

/// The running ticker; [`Ticker::stop`] draws the final state and ends it.
#[derive(Debug)]
pub struct Ticker {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// How often the bar and the observer are refreshed.
const TICK: Duration = Duration::from_millis(100);
/// How often a plain progress line is printed (and on every phase change).
const LINE_EVERY: Duration = Duration::from_secs(5);

impl Ticker {
    pub fn start(
        counters: Arc<Counters>,
        mode: ProgressMode,
        observer: Option<Observer>,
        planned: usize,
        planned_customers: usize,
    ) -> Ticker {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Lines,
            other => other,
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(tick(
            counters,
            mode,
            observer,
            planned,
            planned_customers,
            stop.clone(),
        ));
        Ticker { stop, task }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        // The ticker ends at its next tick; a panic in it is not ours to report.
        let _ = self.task.await;
    }
}

async fn tick(
    counters: Arc<Counters>,
    mode: ProgressMode,
    observer: Option<Observer>,
    planned: usize,
    planned_customers: usize,
    stop: CancellationToken,
) {
    let bar = (mode == ProgressMode::Bar).then(|| {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let mut last_line: Option<(tokio::time::Instant, Phase)> = None;
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let stopping = tokio::select! {
            _ = interval.tick() => false,
            () = stop.cancelled() => true,
        };
        let stats = counters.snapshot(planned, planned_customers);
        if let Some(observer) = &observer {
            observer.publish(stats);
        }
        let (position, length) = progress_of(&stats);
        if let Some(bar) = &bar {
            bar.set_prefix(stats.phase.label());
            bar.set_length(length as u64);
            bar.set_position(position as u64);
            bar.set_message(summary(&stats));
        } else if mode == ProgressMode::Lines && stats.phase != Phase::Done {
            let due = last_line
                .is_none_or(|(at, phase)| phase != stats.phase || at.elapsed() >= LINE_EVERY);
            if due {
                eprintln!(
                    "load: {:<8} {position}/{length} {}",
                    stats.phase.label(),
                    summary(&stats)
                );
                last_line = Some((tokio::time::Instant::now(), stats.phase));
            }
        }
        if stopping {
            break;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// Position and length of the current phase's progress.
fn progress_of(stats: &LiveStats) -> (usize, usize) {
    match stats.phase {
        Phase::Setup => (stats.customers, stats.planned_customers),
        Phase::Sending => (stats.sent, stats.planned),
        Phase::Settling | Phase::Checking | Phase::Done => (stats.terminal, stats.accepted),
    }
}

fn summary(stats: &LiveStats) -> String {
    match stats.phase {
        Phase::Setup => "customers registered".to_owned(),
        _ => format!(
            "accepted {} refused {} no-answer {} in-flight {} terminal {}",
            stats.accepted, stats.refused, stats.no_answer, stats.in_flight, stats.terminal
        ),
    }
}
