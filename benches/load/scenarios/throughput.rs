//! Throughput scenarios in paper mode: durable `202`s beside the bare handler,
//! one-at-a-time signals on an empty and a busy database, replays, and forged signals
//! beside a stream of valid ones.

use std::sync::Arc;

use crate::bare::Bare;
use crate::drive::{self, Run};
use crate::http::Conn;
use crate::preload::History;
use crate::proc::CpuMeter;
use crate::report::Row;
use crate::service::{Exchange, Service};
use crate::signing::Batch;

use super::{fresh, preloaded, Ctx};

/// Every valid signal of a run must have been answered `202` (replays `200`, forged
/// `401`); anything else is a correctness failure, whatever the timing.
fn check_run(ctx: &mut Ctx, what: &str, run: &Run, expect: u16) {
    ctx.check(run.unexpected == 0, || {
        format!(
            "{what}: {} of {} answers were not {expect} (first: {})",
            run.unexpected,
            run.count,
            run.first_unexpected.as_deref().unwrap_or("?")
        )
    });
    ctx.check(run.count > 0, || format!("{what}: nothing was answered"));
}

/// Sends `count` signals with `senders` connections, untimed, so connections and
/// caches are warm before a measurement.
async fn warm_up(
    ctx: &mut Ctx,
    service: &Service,
    batch: &mut Batch,
    senders: usize,
) -> anyhow::Result<()> {
    let requests = Arc::new(batch.valid(senders as u64)?);
    let run = drive::closed(
        service.addr,
        senders,
        requests,
        ctx.plan.bounds(senders as u64),
        202,
    )
    .await?;
    check_run(ctx, "warm-up", &run, 202);
    Ok(())
}

pub async fn durable(ctx: &mut Ctx) -> anyhow::Result<()> {
    let senders = ctx.plan.senders;
    let (_dir, service) = fresh(&Exchange::Paper).await?;
    let mut batch = Batch::new(&ctx.run_id())?;
    warm_up(ctx, &service, &mut batch, senders).await?;
    let requests = Arc::new(batch.valid(ctx.plan.max_signals)?);
    let cpu = CpuMeter::of(Some(service.pid));
    let bounds = ctx.plan.bounds(requests.len() as u64);
    let run = drive::closed(service.addr, senders, requests.clone(), bounds, 202).await?;
    let service_cores = cpu.cores_since();
    check_run(ctx, "durable", &run, 202);
    let mut row = Row::from_run(
        "durable",
        &format!("service, {senders} concurrent"),
        &run,
        true,
    )
    .rss(service.peak_rss_kb())
    .service_cores(service_cores);
    if run.count == requests.len() as u64 && !ctx.plan.smoke {
        row = row.note("stopped: every pre-signed signal was sent");
    }
    service.stop().await?;

    // The same requests to a handler that does nothing, for as long.
    let bare = Bare::start()?;
    let warm = Arc::new(requests[..senders.min(requests.len())].to_vec());
    drive::closed(
        bare.addr,
        senders,
        warm,
        ctx.plan.bounds(senders as u64),
        202,
    )
    .await?;
    let bounds = ctx.plan.bounds(if ctx.plan.smoke { 200 } else { u64::MAX });
    let bare_run = drive::closed(bare.addr, senders, requests, bounds, 202).await?;
    check_run(ctx, "bare handler", &bare_run, 202);
    let share = 100.0 * run.per_sec() / bare_run.per_sec().max(1e-9);
    ctx.rows
        .push(row.note(&format!("{share:.2} % of the bare handler")));
    ctx.rows.push(
        Row::from_run(
            "durable",
            &format!("bare axum handler, {senders} concurrent"),
            &bare_run,
            true,
        )
        .note("in-process: client cores include the handler's"),
    );
    Ok(())
}

/// One sender at a time against `service`, for the plan's duration.
async fn one_at_a_time(ctx: &mut Ctx, service: &Service, what: &str) -> anyhow::Result<Run> {
    let mut batch = Batch::new(&ctx.run_id())?;
    warm_up(ctx, service, &mut batch, 1).await?;
    let max = if ctx.plan.smoke { 10 } else { 20_000 };
    let requests = Arc::new(batch.valid(max)?);
    let run = drive::closed(service.addr, 1, requests, ctx.plan.bounds(max), 202).await?;
    check_run(ctx, what, &run, 202);
    Ok(run)
}

pub async fn sequential(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (_dir, service) = fresh(&Exchange::Paper).await?;
    let empty = one_at_a_time(ctx, &service, "sequential, empty").await?;
    ctx.rows.push(
        Row::from_run("sequential", "one sender, empty database", &empty, true)
            .rss(service.peak_rss_kb()),
    );
    service.stop().await?;

    let today = ctx.plan.sequential_today;
    let (dir, took) = preloaded(History {
        orders: today,
        today,
    })
    .await?;
    let service = Service::start(&dir.path().join("tradehook.toml"), &Exchange::Paper).await?;
    let busy = one_at_a_time(ctx, &service, "sequential, busy day").await?;
    let measure = format!("one sender, {today} orders already today");
    ctx.rows.push(
        Row::from_run("sequential", &measure, &busy, true)
            .rss(service.peak_rss_kb())
            .note(&format!("preloaded in {:.1} s", took.as_secs_f64())),
    );
    service.stop().await?;
    let ratio = 100.0 * busy.per_sec() / empty.per_sec().max(1e-9);
    ctx.rows.push(Row::figure(
        "sequential",
        "busy day vs. empty",
        format!("{ratio:.1} % of the empty figure"),
    ));

    // And on the long history of the audit runs (which then hold these orders too).
    let config = ctx.history().await?;
    let history = ctx.plan.history;
    let service = Service::start(&config, &Exchange::Paper).await?;
    let long = one_at_a_time(ctx, &service, "sequential, long history").await?;
    let measure = format!(
        "one sender, {} orders of which {} today",
        history.orders, history.today
    );
    ctx.rows
        .push(Row::from_run("sequential", &measure, &long, true).rss(service.peak_rss_kb()));
    service.stop().await
}

pub async fn replay(ctx: &mut Ctx) -> anyhow::Result<()> {
    let senders = ctx.plan.senders;
    let (_dir, service) = fresh(&Exchange::Paper).await?;
    let mut batch = Batch::new(&ctx.run_id())?;
    let recorded = batch.valid(1)?;
    let first = Conn::open(service.addr).await?.send(&recorded[0]).await?;
    ctx.check(first.status == 202, || {
        format!("replay: the original got {}", first.status)
    });
    let max = if ctx.plan.smoke { 50 } else { u64::MAX };
    let cpu = CpuMeter::of(Some(service.pid));
    let run = drive::closed(
        service.addr,
        senders,
        Arc::new(recorded),
        ctx.plan.bounds(max),
        200,
    )
    .await?;
    let service_cores = cpu.cores_since();
    check_run(ctx, "replay", &run, 200);
    ctx.rows.push(
        Row::from_run(
            "replay",
            &format!("one recorded signal, {senders} concurrent"),
            &run,
            true,
        )
        .rss(service.peak_rss_kb())
        .service_cores(service_cores),
    );
    service.stop().await
}

pub async fn forged(ctx: &mut Ctx) -> anyhow::Result<()> {
    let senders = ctx.plan.senders;
    let rate = ctx.plan.valid_rate;
    let (_dir, service) = fresh(&Exchange::Paper).await?;
    let mut batch = Batch::new(&ctx.run_id())?;
    warm_up(ctx, &service, &mut batch, 4).await?;
    let valid_count = if ctx.plan.smoke {
        10
    } else {
        (rate * ctx.plan.duration.as_secs_f64()) as u64
    };

    // The valid stream alone first: the latency it should keep under the flood.
    let (alone, _) = drive::open(service.addr, rate, batch.valid(valid_count)?, 202, 256).await?;
    check_run(ctx, "valid signals alone", &alone, 202);
    ctx.rows.push(Row::from_run(
        "forged",
        &format!("valid signals alone, {rate}/s (open)"),
        &alone,
        false,
    ));

    let forged = Arc::new(batch.forged(1_000)?);
    let max = if ctx.plan.smoke { 100 } else { u64::MAX };
    let cpu = CpuMeter::of(Some(service.pid));
    let flood = drive::closed(service.addr, senders, forged, ctx.plan.bounds(max), 401);
    let stream = drive::open(service.addr, rate, batch.valid(valid_count)?, 202, 256);
    let (flood, stream) = tokio::join!(flood, stream);
    let (flood, (stream, _)) = (flood?, stream?);
    let service_cores = cpu.cores_since();
    check_run(ctx, "forged", &flood, 401);
    check_run(ctx, "valid signals beside forged", &stream, 202);
    ctx.rows.push(
        Row::from_run(
            "forged",
            &format!("forged refused, {senders} concurrent"),
            &flood,
            true,
        )
        .rss(service.peak_rss_kb())
        .service_cores(service_cores),
    );
    ctx.rows.push(Row::from_run(
        "forged",
        &format!("valid signals meanwhile, {rate}/s (open)"),
        &stream,
        false,
    ));
    service.stop().await
}
