//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! Labels only ever take values from the configuration or from fixed vocabularies
//! (never from a request), so a caller cannot blow up their cardinality.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

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

/// Every metric of the service; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    signals: Family<SignalLabels, Counter>,
    statuses: Family<StatusLabels, Counter>,
    calls: Family<CallLabels, Counter>,
    call_seconds: Family<CallLabels, Histogram>,
    halted: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
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
        Metrics {
            registry: Arc::new(registry),
            signals,
            statuses,
            calls,
            call_seconds,
            halted,
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
    }
}
