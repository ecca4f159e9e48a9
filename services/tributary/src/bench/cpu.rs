//! CPU time spent by a process, from `/proc/<pid>/stat`.
//!
//! On a small shared machine the client and the broker compete for the same
//! cores, so the client's CPU time per event explains a throughput ratio
//! better than wall-clock figures alone: every microsecond the client burns
//! is one the broker does not get.

use std::time::Duration;

/// The kernel reports `utime` and `stime` in `USER_HZ` ticks, which Linux
/// fixes at 100 per second for user space whatever the kernel's own HZ.
const USER_HZ: u64 = 100;

/// User plus system CPU time of process `pid` (`self` for this one), all
/// threads included, exited ones too.
pub(crate) fn process_cpu(pid: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses `utime` and `stime` (fields 14 and 15) out of a `/proc/<pid>/stat`
/// line. The command name (field 2) is in parentheses and may itself hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub(crate) fn parse_stat(stat: &str) -> Option<Duration> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: utime is the 12th of them.
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.checked_add(stime)?;
    Some(Duration::from_millis(ticks.checked_mul(1000 / USER_HZ)?))
}

/// CPU time of this process and, when known, the broker's, between two
/// points.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMeter {
    broker_pid: Option<u32>,
    ours: Option<Duration>,
    broker: Option<Duration>,
}

/// CPU used per event over a measured interval, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CpuPerEvent {
    /// This process (the client under test).
    pub client_us: f64,
    /// The broker process (`None` for an existing broker).
    pub broker_us: Option<f64>,
}

impl CpuMeter {
    pub(crate) fn start(broker_pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            broker_pid,
            ours: process_cpu("self"),
            broker: broker_pid.and_then(|p| process_cpu(&p.to_string())),
        }
    }

    /// CPU per event since [`CpuMeter::start`].
    pub(crate) fn per_event(&self, events: u64) -> CpuPerEvent {
        let per = |before: Option<Duration>, after: Option<Duration>| {
            let used = after?.checked_sub(before?)?;
            Some(used.as_secs_f64() * 1e6 / events.max(1) as f64)
        };
        CpuPerEvent {
            client_us: per(self.ours, process_cpu("self")).unwrap_or(0.0),
            broker_us: per(
                self.broker,
                self.broker_pid.and_then(|p| process_cpu(&p.to_string())),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_after_the_command_name() {
        // A name with spaces and a parenthesis must not shift the fields.
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 1523 0 0 0 \
                    250 75 0 0 20 0 17 0 123456 1137808384 37525 18446744073709551615";
        assert_eq!(parse_stat(stat), Some(Duration::from_millis(3250)));
    }

    #[test]
    fn rejects_truncated_lines() {
        assert_eq!(parse_stat("4242 (x) S 1 2 3"), None);
        assert_eq!(parse_stat("no parenthesis at all"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let mut spin = 0_u64;
        for i in 0..5_000_000_u64 {
            spin = spin.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(spin);
        assert!(process_cpu("self").is_some());
    }
}
