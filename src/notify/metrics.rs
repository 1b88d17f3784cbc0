//! The notification metrics: deliveries by channel and outcome, and per channel the
//! outbox depth and the age of the oldest undelivered notification. Label values are
//! configured channel names and a fixed vocabulary of outcomes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of a delivery attempt.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub channel: String,
    /// `delivered`, `failed`, `rate_limited` or `dead`.
    pub outcome: String,
}

/// Labels of a per-channel gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    pub channel: String,
}

/// The notification metrics; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct NotifyMetrics {
    deliveries: Family<DeliveryLabels, Counter>,
    depth: Family<ChannelLabels, Gauge>,
    oldest: Family<ChannelLabels, Gauge>,
}

impl NotifyMetrics {
    /// Registers every notification metric in `registry`.
    pub fn register(registry: &mut Registry) -> NotifyMetrics {
        let metrics = NotifyMetrics::default();
        registry.register(
            "notifications",
            "Notification delivery attempts, by channel and outcome",
            metrics.deliveries.clone(),
        );
        registry.register(
            "notifications_outbox_depth",
            "Notifications not delivered yet, by channel",
            metrics.depth.clone(),
        );
        registry.register(
            "notifications_oldest_undelivered_seconds",
            "Age of the oldest undelivered notification, by channel",
            metrics.oldest.clone(),
        );
        metrics
    }

    /// Counts one delivery attempt.
    pub fn delivery(&self, channel: &str, outcome: &str) {
        let labels = DeliveryLabels {
            channel: channel.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.deliveries.get_or_create(&labels).inc();
    }

    /// Sets a channel's outbox depth and oldest undelivered age.
    pub fn set_depth(&self, channel: &str, depth: i64, oldest_secs: i64) {
        let labels = ChannelLabels {
            channel: channel.to_owned(),
        };
        self.depth.get_or_create(&labels).set(depth);
        self.oldest.get_or_create(&labels).set(oldest_secs);
    }
}
