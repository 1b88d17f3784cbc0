//! What Linux's `/proc` says about a process: peak resident memory (`VmHWM`) and CPU
//! time, so a report can say how much memory the service needed and whether the load
//! generator itself was the bottleneck.

use std::time::Instant;

use anyhow::Context as _;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// Peak resident set size of `pid`, in kB (`VmHWM` in `/proc/<pid>/status`).
pub fn peak_rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM line")
}

/// User plus system CPU time of a process so far, in ticks.
fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; fields after its `)` are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// Measures how many cores a process kept busy over an interval.
pub struct CpuMeter {
    pid: Option<u32>,
    ticks: Option<u64>,
    started: Instant,
}

impl CpuMeter {
    /// Starts measuring the bench process itself.
    pub fn this_process() -> CpuMeter {
        CpuMeter::of(None)
    }

    /// Starts measuring `pid` (`None`: this process).
    pub fn of(pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            pid,
            ticks: cpu_ticks(pid),
            started: Instant::now(),
        }
    }

    /// Average cores busy since the start (1.0 = one core all the time).
    pub fn cores_since(&self) -> Option<f64> {
        let now = cpu_ticks(self.pid)?;
        let used = now.checked_sub(self.ticks?)? as f64 / TICKS_PER_SEC;
        Some(used / self.started.elapsed().as_secs_f64().max(1e-9))
    }
}

/// A short description of this machine for the report.
pub fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let memory_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    serde_json::json!({
        "load_average": load_average(),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "memory_kb": memory_kb,
        "kernel": kernel,
    })
}

/// `/proc/loadavg`: other work on the machine skews every figure, so it is recorded.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.trim().to_owned())
        .unwrap_or_default()
}
