//! Signal-to-wire: the service in live mode against the fake Kraken of the tests,
//! served in-process on loopback, once per transport: REST (`AddOrder`) and
//! WebSocket v2 (`add_order` on the WebSocket fake, which takes orders into the same
//! book). Latency is the instant the fake read an order's `AddOrder` (or `add_order`)
//! minus the instant its signal was *scheduled* to be sent (open model), so
//! it holds everything in between: ingress, the durable claim, the executor's queue,
//! signing, the nonce lock, the HTTP call.
//!
//! Each burst gets a fresh fake and a fresh service, so Kraken's per-pair counters
//! (modelled by the service) start from zero as they would after a quiet spell.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::drive::{self, Sent};
use crate::fake_kraken::FakeKraken;
use crate::report::Row;
use crate::service::Exchange;
use crate::signing::{Batch, PAIRS};
use crate::support::fake_kraken_ws::FakeKrakenWs;

use super::{fresh, Ctx};

/// How orders reach the fake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Rest,
    Websocket,
}

/// The client order IDs in the `202` answers, in send order.
pub(super) fn accepted_ids(sent: &[Sent]) -> Vec<Option<Uuid>> {
    sent.iter()
        .map(|s| {
            if s.status != 202 {
                return None;
            }
            serde_json::from_slice::<serde_json::Value>(&s.body)
                .ok()
                .and_then(|v| v["client_order_id"].as_str().and_then(|id| id.parse().ok()))
        })
        .collect()
}

/// Waits (bounded) until the fake has seen an `AddOrder` for each of `ids`.
pub(super) async fn arrivals(
    kraken: &FakeKraken,
    ids: &[Uuid],
    limit: Duration,
) -> HashMap<Uuid, Instant> {
    let started = Instant::now();
    loop {
        let seen: HashMap<Uuid, Instant> = kraken
            .add_order_arrivals()
            .into_iter()
            .filter_map(|(id, at)| id.parse().ok().map(|id| (id, at)))
            .collect();
        if ids.iter().all(|id| seen.contains_key(id)) || started.elapsed() > limit {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn wire(ctx: &mut Ctx) -> anyhow::Result<()> {
    for transport in [Transport::Rest, Transport::Websocket] {
        for (count, rate) in ctx.plan.wire_runs.clone() {
            burst(ctx, count, rate, transport).await?;
        }
    }
    Ok(())
}

async fn burst(ctx: &mut Ctx, count: u64, rate: f64, transport: Transport) -> anyhow::Result<()> {
    let what = format!(
        "burst of {count} at {rate}/s over {} pairs{}",
        PAIRS.len(),
        match transport {
            Transport::Rest => "",
            Transport::Websocket => ", over WebSocket add_order",
        }
    );
    let kraken = FakeKraken::start().await;
    let extra = match transport {
        Transport::Rest => String::new(),
        Transport::Websocket => {
            let ws = FakeKrakenWs::start_with(&kraken).await;
            format!(
                "transport = \"websocket\"\nkraken_ws_url = \"{}\"\nexecutions_feed = false\n",
                ws.url
            )
        }
    };
    kraken.set_price("SOLUSD", Decimal::new(150, 0));
    // The nonce window the README recommends: requests handed to their connections in
    // nonce order may still overtake each other on the way.
    kraken.set_nonce_window(5_000);
    let exchange = Exchange::Live {
        url: kraken.url().to_owned(),
        key: kraken.api_key().to_owned(),
        secret: kraken.api_secret().to_owned(),
        extra,
    };
    let (_dir, service) = fresh(&exchange).await?;
    let mut batch = Batch::new(&ctx.run_id())?;

    // One order per pair first, so the service's connection to Kraken is open.
    let (warm, warm_sent) = drive::open(service.addr, 20.0, batch.valid(3)?, 202, 8).await?;
    let warm_ids: Vec<Uuid> = accepted_ids(&warm_sent).into_iter().flatten().collect();
    ctx.check(warm.unexpected == 0 && warm_ids.len() == 3, || {
        format!("wire warm-up: {:?}", warm.first_unexpected)
    });
    arrivals(&kraken, &warm_ids, Duration::from_secs(30)).await;

    let (run, sent) = drive::open(service.addr, rate, batch.valid(count)?, 202, 1_024).await?;
    ctx.check(run.unexpected == 0, || {
        format!(
            "wire {what}: {} answers were not 202 (first: {})",
            run.unexpected,
            run.first_unexpected.as_deref().unwrap_or("?")
        )
    });
    let ids = accepted_ids(&sent);
    let seen = arrivals(
        &kraken,
        &ids.iter().flatten().copied().collect::<Vec<_>>(),
        Duration::from_secs(60),
    )
    .await;
    let mut latency = drive::histogram()?;
    let mut missing = 0u64;
    for (sent, id) in sent.iter().zip(&ids) {
        match id.and_then(|id| seen.get(&id)) {
            Some(at) => drive::record(&mut latency, at.saturating_duration_since(sent.scheduled)),
            None => missing += 1,
        }
    }
    ctx.check(missing == 0, || {
        format!("wire {what}: {missing} orders never reached the fake")
    });

    // Exactly once: one order per signal on the fake, none for anything else. An
    // attempt refused on the way (and retried) arrives before its order is held.
    let expected = ids.len() + warm_ids.len();
    let waited = Instant::now();
    while kraken.order_count() < expected && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for order in kraken.orders() {
        *per_id
            .entry(order.cl_ord_id.unwrap_or_default())
            .or_default() += 1;
    }
    let doubled = per_id.values().filter(|n| **n > 1).count();
    ctx.check(doubled == 0 && kraken.order_count() == expected, || {
        format!(
            "wire {what}: the fake holds {} orders ({doubled} doubled) for {expected} signals",
            kraken.order_count()
        )
    });

    let mut row = Row::from_run("wire", &format!("signal-to-wire, {what}"), &run, false)
        .rss(service.peak_rss_kb())
        .note(&format!(
            "HTTP 202 p99 {:.2} ms",
            run.latency.value_at_quantile(0.99) as f64 / 1000.0
        ));
    row.latency = crate::report::Percentiles::of(&latency);
    row.count = latency.len();
    row.unexpected += missing;
    ctx.rows.push(row);
    service.stop().await.context("stopping the live service")
}
