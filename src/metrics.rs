//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! Labels only ever take values from the configuration or from fixed vocabularies
//! (never from a request), so a caller cannot blow up their cardinality. The Kraken
//! rate-limit gauges are read from the exchange at each scrape; their `pair` label
//! holds only pairs an order was sent for, which the risk rules restrict.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::exchange::kraken::rate_limit::{Headroom, Level};
use crate::order::OrderStatus;

/// Labels of a received signal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignalLabels {
    /// A configured source name, or `unknown`.
    pub source: String,
    /// `accepted`, `replayed`, `conflict`, `refused`, `invalid`, `unauthorized`, …
    pub outcome: String,
}

/// Labels of an order status change.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

/// Labels of an exchange call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `add_order` or `find_order`.
    pub call: String,
    /// The classified outcome (`placed`, `refused`, `retry_later`, `ambiguous`, …).
    pub outcome: String,
}

/// Reads the exchange's rate-limit headroom; `None` when it has none to report.
pub type HeadroomReader = Arc<dyn Fn() -> Option<Headroom> + Send + Sync>;

/// Writes the rate-limit gauges from what its reader returns at each scrape.
struct HeadroomCollector {
    read: HeadroomReader,
}

impl std::fmt::Debug for HeadroomCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadroomCollector").finish_non_exhaustive()
    }
}

/// The labels of one rate-limit counter: `counter`, and `pair` for a trading one.
type CounterLabels = Vec<(&'static str, String)>;

/// Every counter of `headroom` with its labels, the REST counter first.
fn counters(headroom: &Headroom) -> Vec<(CounterLabels, Level)> {
    let private = (vec![("counter", "private".to_owned())], headroom.private);
    let trading = headroom.trading.iter().map(|(pair, level)| {
        let labels = vec![("counter", "trading".to_owned()), ("pair", pair.clone())];
        (labels, *level)
    });
    std::iter::once(private).chain(trading).collect()
}

/// One gauge family over every counter, with `value` picked from each level.
fn encode_gauges(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    counters: &[(CounterLabels, Level)],
    value: fn(&Level) -> f64,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, level) in counters {
        family.encode_family(labels)?.encode_gauge(&value(level))?;
    }
    Ok(())
}

impl Collector for HeadroomCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let Some(headroom) = (self.read)() else {
            return Ok(());
        };
        let counters = counters(&headroom);
        encode_gauges(
            &mut encoder,
            "kraken_rate_limit_headroom",
            "Units Kraken would still accept now on each rate-limit counter, as modelled \
             (trading counters are listed per pair while not empty)",
            &counters,
            |level| level.remaining,
        )?;
        encode_gauges(
            &mut encoder,
            "kraken_rate_limit_max",
            "Kraken's maximum (REST counter) or refusal threshold (trading counter)",
            &counters,
            |level| level.max,
        )
    }
}

/// Every metric of the service; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    signals: Family<SignalLabels, Counter>,
    statuses: Family<StatusLabels, Counter>,
    calls: Family<CallLabels, Counter>,
    call_seconds: Family<CallLabels, Histogram>,
    halted: Gauge,
    unsettled: Gauge,
    /// Outbound notifications (see [`crate::notify`]).
    pub notify: crate::notify::metrics::NotifyMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// As [`Metrics::new`], also reporting the Kraken rate-limit headroom that `read`
    /// returns at each scrape (nothing while it returns `None`).
    pub fn with_headroom(read: impl Fn() -> Option<Headroom> + Send + Sync + 'static) -> Self {
        Self::build(Some(Arc::new(read)))
    }

    fn build(headroom: Option<HeadroomReader>) -> Self {
        let mut registry = Registry::with_prefix("tradehook");
        let signals = Family::<SignalLabels, Counter>::default();
        registry.register(
            "signals",
            "Signals received, by source and outcome",
            signals.clone(),
        );
        let statuses = Family::<StatusLabels, Counter>::default();
        registry.register(
            "order_status_changes",
            "Order status changes recorded",
            statuses.clone(),
        );
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "exchange_calls",
            "Exchange calls, by call and outcome",
            calls.clone(),
        );
        let call_seconds = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 12))
        });
        registry.register(
            "exchange_call_seconds",
            "Exchange call latency",
            call_seconds.clone(),
        );
        let halted = Gauge::default();
        registry.register(
            "halted",
            "1 while the kill switch or circuit breaker halts trading",
            halted.clone(),
        );
        let unsettled = Gauge::default();
        registry.register(
            "orders_unsettled",
            "Orders the executor is still settling (pending or unknown, being sent or looked up)",
            unsettled.clone(),
        );
        let notify = crate::notify::metrics::NotifyMetrics::register(&mut registry);
        if let Some(read) = headroom {
            registry.register_collector(Box::new(HeadroomCollector { read }));
        }
        Metrics {
            registry: Arc::new(registry),
            signals,
            statuses,
            calls,
            call_seconds,
            halted,
            unsettled,
            notify,
        }
    }

    /// Counts a received signal.
    pub fn signal(&self, source: &str, outcome: &str) {
        let labels = SignalLabels {
            source: source.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.signals.get_or_create(&labels).inc();
    }

    /// Counts a recorded status change.
    pub fn status(&self, status: OrderStatus) {
        let labels = StatusLabels {
            status: status.as_str().to_owned(),
        };
        self.statuses.get_or_create(&labels).inc();
    }

    /// Counts an exchange call and its latency.
    pub fn call(&self, call: &str, outcome: &str, elapsed: Duration) {
        let labels = CallLabels {
            call: call.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.calls.get_or_create(&labels).inc();
        self.call_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Sets whether trading is halted.
    pub fn set_halted(&self, halted: bool) {
        self.halted.set(i64::from(halted));
    }

    /// Sets how many orders the executor is still settling.
    pub fn set_unsettled(&self, count: usize) {
        self.unsettled.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(err) = encode(&mut text, &self.registry) {
            tracing::error!(error = %err, "could not encode metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_events_show_up_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.signal("hook", "accepted");
        metrics.signal("hook", "accepted");
        metrics.status(OrderStatus::Placed);
        metrics.call("add_order", "placed", Duration::from_millis(20));
        let text = metrics.render();
        assert!(
            text.contains(r#"tradehook_signals_total{source="hook",outcome="accepted"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tradehook_order_status_changes_total{status="placed"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("tradehook_exchange_call_seconds_bucket"),
            "{text}"
        );
        assert!(!text.contains("rate_limit"), "{text}");
    }

    fn level(level: f64, max: f64, remaining: f64) -> Level {
        Level {
            level,
            max,
            remaining,
        }
    }

    #[test]
    fn rate_limit_headroom_is_read_at_each_scrape() {
        let headroom = Arc::new(std::sync::Mutex::new(None));
        let metrics = Metrics::with_headroom({
            let headroom = headroom.clone();
            move || headroom.lock().unwrap().clone()
        });
        assert!(!metrics.render().contains("rate_limit"), "none yet");

        *headroom.lock().unwrap() = Some(Headroom {
            private: level(2.5, 15.0, 12.5),
            trading: [("XBTUSD".to_owned(), level(3.0, 60.0, 56.0))].into(),
        });
        let text = metrics.render();
        for line in [
            "# TYPE tradehook_kraken_rate_limit_headroom gauge",
            r#"tradehook_kraken_rate_limit_headroom{counter="private"} 12.5"#,
            r#"tradehook_kraken_rate_limit_headroom{counter="trading",pair="XBTUSD"} 56.0"#,
            "# TYPE tradehook_kraken_rate_limit_max gauge",
            r#"tradehook_kraken_rate_limit_max{counter="private"} 15.0"#,
            r#"tradehook_kraken_rate_limit_max{counter="trading",pair="XBTUSD"} 60.0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");

        headroom.lock().unwrap().as_mut().unwrap().trading.clear();
        let text = metrics.render();
        assert!(
            !text.contains("XBTUSD"),
            "an emptied counter is dropped: {text}"
        );
        assert!(
            text.contains(r#"_headroom{counter="private"} 12.5"#),
            "{text}"
        );
    }
}
