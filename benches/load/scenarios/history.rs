//! Scenarios on a large preloaded history: the audit API under every filter
//! combination, and start-up to ready.

use std::sync::Arc;

use chrono::{Duration as Days, SecondsFormat, Utc};

use crate::drive::{self, histogram, record};
use crate::report::{Percentiles, Row};
use crate::service::{Exchange, Service};
use crate::signing::audit_get;

use super::Ctx;

/// An RFC 3339 time `days` ago, in UTC with a `Z` (a `+` would need escaping in a URL).
fn days_ago(days: i64) -> String {
    (Utc::now() - Days::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `since` and `until` for a window between two days back.
fn window(from_days_ago: i64, to_days_ago: i64) -> String {
    format!(
        "since={}&until={}",
        days_ago(from_days_ago),
        days_ago(to_days_ago)
    )
}

/// Every filter combination of issue 9: each filter alone, the time windows (recent
/// and 20–30 days back) alone and with each filter, and the pairs of filters.
fn combinations() -> Vec<(String, String)> {
    let recent = format!(
        "since={}",
        (Utc::now() - Days::hours(2)).to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let old = window(30, 20);
    let filters = [
        ("status", "status=failed"),
        ("pair", "pair=ETHUSD"),
        ("source", "source=tv"),
        ("strategy", "strategy=scalp"),
    ];
    let mut out = vec![
        ("none (newest first)".to_owned(), String::new()),
        ("status=placed".to_owned(), "status=placed".to_owned()),
    ];
    for (name, query) in filters {
        out.push((name.to_owned(), query.to_owned()));
    }
    out.push(("since (last 2 h)".to_owned(), recent.clone()));
    out.push(("since+until, recent day".to_owned(), window(1, 0)));
    out.push(("since+until, 20–30 days back".to_owned(), old.clone()));
    out.push((
        "until, 20 days back".to_owned(),
        format!("until={}", days_ago(20)),
    ));
    for (i, (a, qa)) in filters.iter().enumerate() {
        for (b, qb) in &filters[i + 1..] {
            out.push((format!("{a} + {b}"), format!("{qa}&{qb}")));
        }
        out.push((format!("{a} + since (2 h)"), format!("{qa}&{recent}")));
        out.push((
            format!("{a} + since+until (20–30 d)"),
            format!("{qa}&{old}"),
        ));
    }
    out.push((
        "pair + status=placed".to_owned(),
        "pair=XBTUSD&status=placed".to_owned(),
    ));
    out
}

pub async fn audit(ctx: &mut Ctx) -> anyhow::Result<()> {
    let config = ctx.history().await?;
    let service = Service::start(&config, &Exchange::Paper).await?;
    let history = ctx.plan.history;
    let readers = ctx.plan.readers;
    for (name, query) in combinations() {
        let path = if query.is_empty() {
            "/v1/orders".to_owned()
        } else {
            format!("/v1/orders?{query}")
        };
        let request = Arc::new(vec![audit_get(path)?]);
        let run = drive::closed(service.addr, readers, request, ctx.plan.per_query, 200).await?;
        ctx.check(run.unexpected == 0 && run.count > 0, || {
            format!("audit {name}: {:?}", run.first_unexpected)
        });
        let measure = format!(
            "GET /v1/orders {name}, {readers} readers, {} orders",
            history.orders
        );
        ctx.rows
            .push(Row::from_run("audit", &measure, &run, false).rss(service.peak_rss_kb()));
    }
    service.stop().await
}

pub async fn startup(ctx: &mut Ctx) -> anyhow::Result<()> {
    let config = ctx.history().await?;
    let history = ctx.plan.history;
    let mut times = histogram()?;
    let mut each = Vec::new();
    let mut rss = None;
    for _ in 0..ctx.plan.startups {
        let service = Service::start(&config, &Exchange::Paper).await?;
        record(&mut times, service.startup);
        each.push(format!("{:.1}", service.startup.as_secs_f64() * 1000.0));
        rss = rss.max(service.peak_rss_kb());
        service.stop().await?;
    }
    let mut row = Row::figure(
        "startup",
        &format!(
            "spawn to /readyz 200, {} orders ({} today)",
            history.orders, history.today
        ),
        format!("each start, ms: {}", each.join(", ")),
    )
    .rss(rss);
    row.count = times.len();
    row.latency = Percentiles::of(&times);
    ctx.rows.push(row);
    Ok(())
}
