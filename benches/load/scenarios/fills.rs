//! Fill-to-record: the service in live mode with its executions feed on the WebSocket
//! fake, one resting limit order placed, then trades of that order streamed at a
//! steady rate (100/s in the full run). Latency per fill is `recorded_at − at` in the
//! service's `fills` table, where `at` is the report's timestamp, stamped by the fake
//! the instant it sends the frame: it holds the socket, parsing, the recorder and the
//! writer's batch commit. Both are milliseconds, so the figures are to 1 ms.
//!
//! Correctness (also in the smoke run): every trade recorded, each exactly once.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection as _, SqliteConnection};
use uuid::Uuid;

use crate::drive;
use crate::fake_kraken::FakeKraken;
use crate::http::Conn;
use crate::report::Row;
use crate::service::Exchange;
use crate::signing::{audit_get, Batch};
use crate::support::fake_kraken_ws::{trade, FakeKrakenWs};

use super::wire::{accepted_ids, arrivals};
use super::{fresh, Ctx};

/// Fills streamed per second.
const RATE: f64 = 100.0;
/// Base volume of each fill: a thousand of them stay below the order's 0.001.
const FILL_VOLUME: f64 = 0.000_000_5;

/// Waits (bounded) until the order is `placed` as the service sees it.
async fn placed(addr: std::net::SocketAddr, id: Uuid) -> anyhow::Result<bool> {
    let mut conn = Conn::open(addr).await?;
    let get = audit_get(format!("/v1/orders/{id}"))?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let answer = conn.send(&get).await?;
        let order: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if order["status"] == "placed" {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(false)
}

pub async fn fills(ctx: &mut Ctx) -> anyhow::Result<()> {
    let count = if ctx.plan.smoke {
        20
    } else {
        (RATE * ctx.plan.duration.as_secs_f64()) as u64
    };
    let what = format!("fill-to-record, {count} fills at {RATE}/s over the executions feed");
    let kraken = FakeKraken::start().await;
    let ws = FakeKrakenWs::start_with(&kraken).await;
    let exchange = Exchange::Live {
        url: kraken.url().to_owned(),
        key: kraken.api_key().to_owned(),
        secret: kraken.api_secret().to_owned(),
        extra: format!("kraken_ws_url = \"{}\"\nexecutions_feed = true\n", ws.url),
    };
    let (dir, service) = fresh(&exchange).await?;
    let subscribed = Instant::now();
    while ws.subscriptions().0 == 0 && subscribed.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.check(ws.subscriptions().0 > 0, || {
        "fills: the executions feed never subscribed".into()
    });

    // The seventh signal of a batch is a limit buy of 0.001 XBTUSD at 30000, which
    // rests on the fake's book (its price is 60000).
    let mut batch = Batch::new(&ctx.run_id())?;
    let signal = batch.valid(7)?.pop().context("no signal")?;
    let (run, sent) = drive::open(service.addr, 10.0, vec![signal], 202, 1).await?;
    let id = accepted_ids(&sent).into_iter().flatten().next();
    ctx.check(run.unexpected == 0 && id.is_some(), || {
        format!(
            "fills: the order was not accepted: {:?}",
            run.first_unexpected
        )
    });
    let Some(id) = id else {
        return service.stop().await.context("stopping the live service");
    };
    arrivals(&kraken, &[id], Duration::from_secs(30)).await;
    let is_placed = placed(service.addr, id).await?;
    ctx.check(is_placed, || format!("fills: order {id} never placed"));

    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / RATE));
    for n in 0..count {
        ticks.tick().await;
        let mut report = trade(
            &id.to_string(),
            &format!("TB-{n}"),
            FILL_VOLUME,
            30000.0,
            "partially_filled",
        );
        report["timestamp"] = chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into();
        ws.push(report);
    }
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("tradehook.db"))
        .read_only(true);
    let mut db = SqliteConnection::connect_with(&options).await?;
    let waited = Instant::now();
    let (mut rows, mut distinct) = (0i64, 0i64);
    while waited.elapsed() < Duration::from_secs(30) {
        (rows, distinct) = sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT trade_id) FROM fills")
            .fetch_one(&mut db)
            .await?;
        if rows >= count as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.check(rows == count as i64 && distinct == rows, || {
        format!("fills: {rows} fills recorded ({distinct} distinct) for {count} trades")
    });
    let lags: Vec<i64> = sqlx::query_scalar("SELECT recorded_at - at FROM fills")
        .fetch_all(&mut db)
        .await?;
    let mut latency = drive::histogram()?;
    for lag in &lags {
        drive::record(
            &mut latency,
            Duration::from_millis(lag.max(&0).unsigned_abs()),
        );
    }
    let mut row = Row::figure("fills", &what, "to 1 ms (millisecond columns)".into())
        .rss(service.peak_rss_kb());
    row.latency = crate::report::Percentiles::of(&latency);
    row.count = latency.len();
    row.seconds = started.elapsed().as_secs_f64();
    row.unexpected = (count as i64 - rows).unsigned_abs();
    ctx.rows.push(row);
    db.close().await?;
    service.stop().await.context("stopping the live service")
}
