//! The two load models.
//!
//! * Closed: N senders, each on its own keep-alive connection, each sending the next
//!   request as soon as the previous one is answered. Measures capacity.
//! * Open: requests at a fixed arrival rate whatever the service does; each latency is
//!   timed from the request's *scheduled* send instant, so a stalled service is charged
//!   for the whole stall (no coordinated omission).
//!
//! Both are bounded: by a request count and by wall time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use hyper::body::Bytes;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::http::{Conn, Pool, Prepared};

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).context("histogram bounds")
}

/// Records `elapsed` (saturating at the histogram's top).
pub fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.max(1));
}

/// What a run of requests came to.
pub struct Run {
    /// Requests answered (whatever the status).
    pub count: u64,
    /// Answers whose status was not the expected one.
    pub unexpected: u64,
    /// The first unexpected answer, for the report.
    pub first_unexpected: Option<String>,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    /// CPU the bench process itself used meanwhile, in cores (1.0 = one core busy).
    pub client_cores: Option<f64>,
}

impl Run {
    /// Answers per second of wall time.
    pub fn per_sec(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn describe(status: u16, body: &Bytes) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    format!("{status} {text}")
}

/// Bounds of a closed-model run: whichever comes first.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_requests: u64,
    pub max_time: Duration,
}

/// Closed model: `senders` connections to `addr`, taking requests in order from
/// `requests` (cycling through it when it is shorter than the run), expecting `expect`.
pub async fn closed(
    addr: SocketAddr,
    senders: usize,
    requests: Arc<Vec<Prepared>>,
    bounds: Bounds,
    expect: u16,
) -> anyhow::Result<Run> {
    anyhow::ensure!(!requests.is_empty(), "no requests to send");
    let mut conns = Vec::with_capacity(senders);
    for _ in 0..senders {
        conns.push(Conn::open(addr).await?);
    }
    let next = Arc::new(AtomicU64::new(0));
    let cpu = crate::proc::CpuMeter::this_process();
    let started = Instant::now();
    let deadline = started + bounds.max_time;
    let mut tasks = JoinSet::new();
    for mut conn in conns {
        let (next, requests) = (next.clone(), requests.clone());
        tasks.spawn(async move {
            let mut latency = histogram()?;
            let (mut unexpected, mut first) = (0u64, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= bounds.max_requests || Instant::now() >= deadline {
                    break;
                }
                let request = &requests[(i % requests.len() as u64) as usize];
                let sent = Instant::now();
                let answer = conn.send(request).await?;
                record(&mut latency, sent.elapsed());
                if answer.status != expect {
                    unexpected += 1;
                    first.get_or_insert_with(|| describe(answer.status, &answer.body));
                }
            }
            anyhow::Ok((latency, unexpected, first))
        });
    }
    let mut run = Run {
        count: 0,
        unexpected: 0,
        first_unexpected: None,
        elapsed: Duration::ZERO,
        latency: histogram()?,
        client_cores: None,
    };
    while let Some(done) = tasks.join_next().await {
        let (latency, unexpected, first) = done.context("a sender panicked")??;
        run.count += latency.len();
        run.latency.add(&latency).context("merging histograms")?;
        run.unexpected += unexpected;
        if run.first_unexpected.is_none() {
            run.first_unexpected = first;
        }
    }
    run.elapsed = started.elapsed();
    run.client_cores = cpu.cores_since();
    Ok(run)
}

/// One request of an open-model run, as it went.
pub struct Sent {
    /// When it was due to leave.
    pub scheduled: Instant,
    pub status: u16,
    pub body: Bytes,
}

/// Open model: sends every request of `requests` at `rate` per second, each on an idle
/// pooled connection (or a new one), at most `max_in_flight` at once. Latencies are
/// timed from each request's scheduled instant.
pub async fn open(
    addr: SocketAddr,
    rate: f64,
    requests: Vec<Prepared>,
    expect: u16,
    max_in_flight: usize,
) -> anyhow::Result<(Run, Vec<Sent>)> {
    anyhow::ensure!(rate > 0.0, "the arrival rate must be positive");
    let pool = Pool::new(addr, max_in_flight.min(32)).await?;
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let cpu = crate::proc::CpuMeter::this_process();
    let started = Instant::now() + Duration::from_millis(5);
    let mut tasks = JoinSet::new();
    for (i, request) in requests.into_iter().enumerate() {
        let scheduled = started + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(scheduled.into()).await;
        // Waiting for a permit delays the send but not the clock it is timed by.
        let permit = permits.clone().acquire_owned().await.context("permits")?;
        let pool = pool.clone();
        tasks.spawn(async move {
            let answer = pool.send(&request).await;
            let done = Instant::now();
            drop(permit);
            answer.map(|a| (scheduled, done, a))
        });
    }
    let mut run = Run {
        count: 0,
        unexpected: 0,
        first_unexpected: None,
        elapsed: Duration::ZERO,
        latency: histogram()?,
        client_cores: None,
    };
    let mut sent = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (scheduled, done, answer) = done.context("a request task panicked")??;
        record(&mut run.latency, done - scheduled);
        run.count += 1;
        if answer.status != expect {
            run.unexpected += 1;
            run.first_unexpected
                .get_or_insert_with(|| describe(answer.status, &answer.body));
        }
        sent.push(Sent {
            scheduled,
            status: answer.status,
            body: answer.body,
        });
    }
    run.elapsed = started.elapsed();
    run.client_cores = cpu.cores_since();
    sent.sort_by_key(|s| s.scheduled);
    Ok((run, sent))
}
