//! The notification service as the app sees it: started with the app (channels built,
//! routes handed to the writer, worker and timers spawned, `startup` stored), stopped
//! after the executor (`shutdown` stored and given a short grace to go out; whatever
//! is left goes out on the next start).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::backoff::Backoff;
use super::channels::Channel;
use super::events::EventKind;
use super::queries;
use super::routes::Routes;
use super::timers::{self, Timers};
use super::worker::{self, Context};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

/// The running notification service; does nothing when no channel is configured.
#[derive(Clone, Default)]
pub struct Notifier {
    running: Option<Running>,
}

#[derive(Clone)]
struct Running {
    context: Context,
    routes: Routes,
    tracker: TaskTracker,
    grace: Duration,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("running", &self.running.is_some())
            .finish()
    }
}

/// Every configured channel, built.
pub fn channels(config: &Config) -> anyhow::Result<Vec<Arc<Channel>>> {
    let timeout = Duration::from_secs(config.notifications.timeout_secs);
    config
        .notify
        .iter()
        .map(|channel| Channel::new(channel, timeout).map(Arc::new))
        .collect()
}

impl Notifier {
    /// Starts delivering to the configured channels and stores `startup`.
    pub async fn start(
        store: &Store,
        config: &Config,
        clock: SharedClock,
        metrics: &Metrics,
    ) -> anyhow::Result<Notifier> {
        if config.notify.is_empty() {
            return Ok(Notifier::default());
        }
        let settings = &config.notifications;
        let channels = channels(config)?;
        let routes = Routes::new(&config.notify);
        store.route_notifications(routes.clone());
        let context = Context {
            store: store.clone(),
            clock,
            backoff: Backoff {
                initial: Duration::from_secs(settings.retry_initial_secs),
                max: Duration::from_secs(settings.retry_max_secs),
                give_up_after: Duration::from_secs(settings.give_up_after_secs),
            },
            poll: Duration::from_millis(settings.poll_ms),
            metrics: metrics.notify.clone(),
            stop: CancellationToken::new(),
        };
        let tracker = TaskTracker::new();
        worker::spawn(&context, channels, &tracker);
        let timers = Timers {
            routes: routes.clone(),
            channels: config.notify.iter().map(|c| c.name.clone()).collect(),
            unknown_after: (settings.order_unknown_after_secs > 0)
                .then(|| Duration::from_secs(settings.order_unknown_after_secs)),
            summary_at: settings.summary_time(),
            retain: (settings.retain_days > 0).then(|| {
                chrono::Duration::days(
                    i64::try_from(settings.retain_days.min(100_000)).unwrap_or(100_000),
                )
            }),
        };
        tracker.spawn(timers::run(context.clone(), timers));
        tracker.close();
        let running = Running {
            context,
            routes,
            tracker,
            grace: Duration::from_secs(settings.shutdown_grace_secs),
        };
        let notifier = Notifier {
            running: Some(running),
        };
        let data = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "mode": config.exchange.mode,
            "channels": config.notify.iter().map(|c| json!({"name": c.name, "kind": c.kind.name()})).collect::<Vec<_>>(),
        });
        notifier.announce(EventKind::Startup, data).await;
        Ok(notifier)
    }

    /// Stores a notification of `kind` for every channel taking it.
    pub async fn announce(&self, kind: EventKind, data: Value) {
        let Some(running) = &self.running else { return };
        let now = running.context.clock.now();
        let rows = running.routes.rows(kind, data, None, None, now);
        if let Err(err) = timers::enqueue(&running.context, rows).await {
            tracing::warn!(error = %err, event = kind.as_str(), "storing a notification");
        }
    }

    /// Stores `shutdown`, waits up to the grace period for the outbox to empty, then
    /// stops the worker. Undelivered notifications stay stored for the next start.
    pub async fn stop(&self) {
        let Some(running) = &self.running else { return };
        self.announce(EventKind::Shutdown, json!({"reason": "graceful shutdown"}))
            .await;
        let deadline = tokio::time::Instant::now() + running.grace;
        while tokio::time::Instant::now() < deadline {
            let pending = queries::depth(running.context.store.reader())
                .await
                .map(|rows| rows.iter().map(|(_, n, _)| *n).sum::<i64>())
                .unwrap_or(0);
            if pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        running.context.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), running.tracker.wait()).await;
    }
}
