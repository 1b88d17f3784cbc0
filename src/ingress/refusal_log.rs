//! Log lines for requests refused before authentication (a bad signature, a wrong
//! token, an unknown source), at most one a second.
//!
//! A flood of forged requests must not become a flood of log lines: writing one line
//! per refusal cost more than refusing the request (it held the forged-signal rate to
//! a third of what the refusal alone allows, BENCHMARKS.md) and buries every other
//! line. The first refusal of each second is logged with its reason, and the line says
//! how many refusals the quiet second before it left out; every refusal is still
//! counted in `/metrics` and logged at `debug`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest time between two lines.
const EVERY: Duration = Duration::from_secs(1);

/// When the last line was written and how many refusals went unlogged since.
#[derive(Debug)]
struct Window {
    last_line: Option<Instant>,
    left_out: u64,
}

/// A throttle for refusal lines.
#[derive(Debug)]
pub struct RefusalLog(Mutex<Window>);

impl RefusalLog {
    /// A throttle that lets the first refusal through.
    pub const fn new() -> Self {
        RefusalLog(Mutex::new(Window {
            last_line: None,
            left_out: 0,
        }))
    }

    /// Counts one refusal at `now`: `Some(n)` when it gets a line of its own (`n`
    /// refusals were left out since the previous line), `None` when it is left out.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        // A plain counter and instant: consistent even if a holder panicked.
        let mut window = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match window.last_line {
            Some(last) if now.saturating_duration_since(last) < EVERY => {
                window.left_out += 1;
                None
            }
            _ => {
                window.last_line = Some(now);
                Some(std::mem::take(&mut window.left_out))
            }
        }
    }
}

impl Default for RefusalLog {
    fn default() -> Self {
        Self::new()
    }
}

/// The one throttle for the whole process: a flood through many sources is still one
/// flood.
static REFUSALS: RefusalLog = RefusalLog::new();

/// Logs a refused request, throttled: `source` is already safe to log.
pub fn refused(source: &str, reason: &str) {
    tracing::debug!(source, reason, "signal refused before authentication");
    if let Some(left_out) = REFUSALS.admit(Instant::now()) {
        tracing::info!(
            source,
            reason,
            left_out,
            "signal refused before authentication (at most one line a second; \
             left_out counts the refusals not logged since the previous line)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_refusal_is_logged_and_the_rest_of_its_second_are_counted() {
        let log = RefusalLog::new();
        let start = Instant::now();
        assert_eq!(log.admit(start), Some(0));
        for ms in 1..=999 {
            assert_eq!(log.admit(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(log.admit(start + Duration::from_secs(1)), Some(999));
        assert_eq!(log.admit(start + Duration::from_millis(1500)), None);
        assert_eq!(log.admit(start + Duration::from_secs(5)), Some(1));
    }

    #[test]
    fn an_instant_before_the_last_line_is_left_out_not_a_panic() {
        let log = RefusalLog::new();
        let start = Instant::now() + Duration::from_secs(10);
        assert_eq!(log.admit(start), Some(0));
        assert_eq!(log.admit(start - Duration::from_secs(5)), None);
    }
}
