//! Which channel wants which notification: the `events` and `sources` of every
//! `[[notify]]` entry, held by the writer to fan an event out into outbox rows.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::config::ChannelConfig;
use super::events::{order_data, EventKind};
use super::outbox::OutboxRow;
use crate::store::orders::OrderRecord;

/// One channel's subscription.
#[derive(Debug, Clone)]
struct Route {
    channel: String,
    events: HashSet<EventKind>,
    /// Only order events of these sources; `None` takes every source.
    sources: Option<HashSet<String>>,
}

/// Every channel's subscription.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    routes: Vec<Route>,
}

impl Routes {
    /// The routes of the configured channels.
    pub fn new(channels: &[ChannelConfig]) -> Routes {
        let routes = channels
            .iter()
            .map(|channel| Route {
                channel: channel.name.clone(),
                events: channel.subscribed().into_iter().collect(),
                sources: channel
                    .sources
                    .as_ref()
                    .map(|sources| sources.iter().cloned().collect()),
            })
            .collect();
        Routes { routes }
    }

    /// Whether no channel is configured.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Rows of a non-order event for every channel taking `kind`; those sharing an
    /// `order_key` are delivered in the order stored.
    pub fn rows(
        &self,
        kind: EventKind,
        data: Value,
        order_key: Option<&str>,
        dedupe: Option<String>,
        now: DateTime<Utc>,
    ) -> Vec<OutboxRow> {
        let key = order_key.map(str::to_owned);
        self.routes
            .iter()
            .filter(|route| route.events.contains(&kind))
            .map(|route| {
                OutboxRow::new(
                    &route.channel,
                    kind,
                    key.clone(),
                    dedupe.clone(),
                    &data,
                    now,
                )
            })
            .collect()
    }

    /// Rows of an order event for every channel taking `kind` from the order's source.
    pub fn rows_for_order(
        &self,
        kind: EventKind,
        order: &OrderRecord,
        dedupe: Option<String>,
        now: DateTime<Utc>,
    ) -> Vec<OutboxRow> {
        let mut wanted = self.routes.iter().filter(|route| {
            route.events.contains(&kind)
                && route
                    .sources
                    .as_ref()
                    .is_none_or(|sources| sources.contains(&order.source))
        });
        let Some(first) = wanted.next() else {
            return Vec::new();
        };
        let data = order_data(order);
        let key = Some(order.client_order_id.to_string());
        std::iter::once(first)
            .chain(wanted)
            .map(|route| {
                OutboxRow::new(
                    &route.channel,
                    kind,
                    key.clone(),
                    dedupe.clone(),
                    &data,
                    now,
                )
            })
            .collect()
    }
}
