//! Progress for long work: a bar with rate and ETA on a terminal, a plain
//! line every few seconds otherwise (logs, CI), always on stderr so stdout
//! stays clean for `--json` and `--print`.

use std::{
    io::IsTerminal as _,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};

/// How often the plain-line mode reports.
const PLAIN_EVERY: Duration = Duration::from_secs(2);

/// A progress reporter over a known total.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    what: String,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
    quiet: bool,
}

impl Progress {
    /// `quiet` = report nothing (tests, `--json`).
    pub fn new(what: &str, total: u64, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what.to_owned());
            bar
        });
        Progress {
            bar,
            what: what.to_owned(),
            total,
            done: 0,
            started: Instant::now(),
            last_line: Instant::now(),
            quiet,
        }
    }

    pub fn inc(&mut self) {
        self.done += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        } else if !self.quiet && self.last_line.elapsed() >= PLAIN_EVERY {
            self.last_line = Instant::now();
            eprintln!(
                "{}: {}/{} ({:.0}/s)",
                self.what,
                self.done,
                self.total,
                self.rate()
            );
        }
    }

    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if !self.quiet {
            eprintln!(
                "{}: {} record(s) in {:.1}s ({:.0}/s)",
                self.what,
                self.done,
                self.started.elapsed().as_secs_f64(),
                self.rate()
            );
        }
    }

    fn rate(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        }
    }
}
