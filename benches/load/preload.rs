//! Pre-loading a database with order history, so a run can measure the service as it
//! will be after months of use rather than on an empty file.
//!
//! The database is first created with `tradehook migrate`; then rows are inserted
//! directly with sqlx, many per statement and many statements per transaction. Only
//! columns of migrations 0001–0004 are written, so later migrations that add columns
//! with defaults keep this working. Each order gets one `order_events` row with its
//! final status. Times spread over the last 30 days, `today` of them in the current
//! UTC day; ids ascend with time, as they would have been assigned.

use std::path::Path;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection as _, QueryBuilder, Sqlite, SqliteConnection};

/// How much history to write.
#[derive(Clone, Copy, Debug)]
pub struct History {
    pub orders: u64,
    /// Of which created in the current UTC day.
    pub today: u64,
}

const DAY_MS: i64 = 86_400_000;
const ROWS_PER_STATEMENT: usize = 100;
const ROWS_PER_TRANSACTION: u64 = 50_000;

/// Spellings of the history: weights are rough shares of a real operator's traffic.
const PAIRS: [(&str, &str, &str, u32); 5] = [
    ("XBTUSD", "0.0010", "60000.0", 50),
    ("ETHUSD", "0.050", "3000.00", 30),
    ("SOLUSD", "0.50", "150.00", 10),
    ("XRPUSD", "20", "0.50000", 5),
    ("XDGUSD", "100", "0.1500000", 5),
];
pub const SOURCES: [&str; 3] = ["bench", "voiceofchain", "tv"];
pub const STRATEGIES: [Option<&str>; 5] = [
    Some("breakout"),
    Some("trend"),
    Some("mean-revert"),
    Some("scalp"),
    None,
];

/// The stored form of one kind of signal: what the service would have written.
struct Template {
    pair: &'static str,
    side: &'static str,
    order_type: &'static str,
    volume: &'static str,
    price: Option<&'static str>,
    notional: String,
    strategy: Option<&'static str>,
    source: &'static str,
    signal: String,
    content_hash: String,
}

fn template(
    pair: usize,
    sell: bool,
    limit: bool,
    strategy: usize,
    source: usize,
) -> anyhow::Result<Template> {
    let (name, volume, price, _) = PAIRS[pair];
    let side = if sell { "sell" } else { "buy" };
    let order_type = if limit { "limit" } else { "market" };
    let strategy = STRATEGIES[strategy];
    let mut body = serde_json::json!({"pair": name, "side": side, "order_type": order_type,
                                      "volume": volume});
    if limit {
        body["price"] = price.into();
    } else {
        body["reference_price"] = price.into();
    }
    if let Some(strategy) = strategy {
        body["strategy"] = strategy.into();
    }
    // The service's own parser and hash, so the rows read back exactly like its own.
    let (signal, _) = tradehook::signal::parse_signal(body.to_string().as_bytes())
        .map_err(|e| anyhow::anyhow!("template signal: {e}"))?;
    let notional =
        rust_decimal::Decimal::from_str(volume)? * rust_decimal::Decimal::from_str(price)?;
    Ok(Template {
        pair: name,
        side,
        order_type,
        volume,
        price: limit.then_some(price),
        notional: notional.normalize().to_string(),
        strategy,
        source: SOURCES[source],
        signal: serde_json::to_string(&signal)?,
        content_hash: tradehook::intake::content_hash(SOURCES[source], &signal),
    })
}

/// One generated order.
struct Row<'a> {
    id: i64,
    t: &'a Template,
    client_order_id: String,
    status: &'static str,
    txid: Option<String>,
    created_at: i64,
}

fn pick_pair(rng: &mut StdRng) -> usize {
    let mut roll = rng.gen_range(0..100u32);
    for (i, (.., weight)) in PAIRS.iter().enumerate() {
        if roll < *weight {
            return i;
        }
        roll -= weight;
    }
    0
}

fn pick_status(rng: &mut StdRng) -> &'static str {
    match rng.gen_range(0..100u32) {
        0..=89 => "placed",
        90..=93 => "rejected",
        94..=96 => "failed",
        _ => "expired",
    }
}

/// Writes `history` into the (migrated) database at `db`. Returns how long it took.
pub async fn preload(db: &Path, history: History) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut templates = Vec::new();
    for pair in 0..PAIRS.len() {
        for code in 0..(2 * 2 * STRATEGIES.len() * SOURCES.len()) {
            let (sell, limit) = (code % 2 == 1, code / 2 % 2 == 1);
            let (strategy, source) = (code / 4 % STRATEGIES.len(), code / 4 / STRATEGIES.len());
            templates.push(template(pair, sell, limit, strategy, source)?);
        }
    }
    let per_pair = templates.len() / PAIRS.len();
    let options = SqliteConnectOptions::new()
        .filename(db)
        .journal_mode(SqliteJournalMode::Wal)
        // Bulk set-up, not the service's writes: durability comes from the final close.
        .synchronous(SqliteSynchronous::Off)
        // Random client order IDs land all over their unique index: keep it in memory.
        .pragma("cache_size", "-524288");
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    let first_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM orders")
        .fetch_one(&mut conn)
        .await?;
    let now = Utc::now().timestamp_millis();
    let day_start = now - now.rem_euclid(DAY_MS);
    let today = history.today.min(history.orders);
    let older = history.orders - today;
    let spans = [
        (now - 30 * DAY_MS, day_start, older),
        (day_start, now - 1_000, today),
    ];
    let mut rng = StdRng::seed_from_u64(9);
    let mut n = 0u64;
    for (from, to, count) in spans {
        let step = (to - from).max(1) as f64 / count.max(1) as f64;
        let mut i = 0u64;
        while i < count {
            let chunk = (count - i).min(ROWS_PER_TRANSACTION);
            let mut rows = Vec::with_capacity(chunk as usize);
            for k in 0..chunk {
                let slot = (i + k) as f64 + rng.gen::<f64>();
                let t = &templates[pick_pair(&mut rng) * per_pair + rng.gen_range(0..per_pair)];
                let status = pick_status(&mut rng);
                let txid = (status == "placed").then(|| {
                    format!(
                        "O{:05X}-{:05X}-{:06X}",
                        rng.gen_range(0..0xFFFFFu32),
                        rng.gen_range(0..0xFFFFFu32),
                        rng.gen_range(0..0xFFFFFFu32)
                    )
                });
                rows.push(Row {
                    id: first_id + (n + k) as i64,
                    t,
                    client_order_id: uuid::Builder::from_random_bytes(rng.gen())
                        .into_uuid()
                        .to_string(),
                    status,
                    txid,
                    created_at: from + (slot * step) as i64,
                });
            }
            insert(&mut conn, &rows).await?;
            i += chunk;
            n += chunk;
        }
    }
    conn.close()
        .await
        .context("closing the preloaded database")?;
    Ok(started.elapsed())
}

async fn insert(conn: &mut SqliteConnection, rows: &[Row<'_>]) -> anyhow::Result<()> {
    let mut tx = conn.begin().await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut orders: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO orders (id, client_order_id, source, strategy, pair, side, order_type, \
             volume, price, notional, status, txid, error, reasons, signal, content_hash, \
             userref, deadline_at, created_at, updated_at) ",
        );
        orders.push_values(chunk, |mut b, row| {
            let sent = row.status != "rejected";
            b.push_bind(row.id)
                .push_bind(&row.client_order_id)
                .push_bind(row.t.source)
                .push_bind(row.t.strategy)
                .push_bind(row.t.pair)
                .push_bind(row.t.side)
                .push_bind(row.t.order_type)
                .push_bind(row.t.volume)
                .push_bind(row.t.price)
                .push_bind(&row.t.notional)
                .push_bind(row.status)
                .push_bind(row.txid.as_deref())
                .push_bind((row.status == "failed").then_some("EOrder:Insufficient funds"))
                .push_bind(if sent {
                    "[]"
                } else {
                    r#"[{"rule":"max_order_notional","detail":"over the limit"}]"#
                })
                .push_bind(&row.t.signal)
                .push_bind(&row.t.content_hash)
                .push_bind(None::<i64>)
                .push_bind(sent.then_some(row.created_at + 10_000))
                .push_bind(row.created_at)
                .push_bind(row.created_at + 40);
        });
        orders
            .build()
            .execute(&mut *tx)
            .await
            .context("inserting orders")?;
        let mut events: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO order_events (order_id, at, status, cause, request, response, elapsed_ms) ",
        );
        events.push_values(chunk, |mut b, row| {
            let (cause, response) = match row.status {
                "placed" => (
                    "exchange accepted",
                    Some(format!(
                        r#"{{"error":[],"result":{{"txid":["{}"]}}}}"#,
                        row.txid.as_deref().unwrap_or_default()
                    )),
                ),
                "failed" => (
                    "exchange refused",
                    Some(r#"{"error":["EOrder:Insufficient funds"]}"#.to_owned()),
                ),
                "expired" => ("deadline passed", None),
                _ => ("risk refused", None),
            };
            b.push_bind(row.id)
                .push_bind(row.created_at + 40)
                .push_bind(row.status)
                .push_bind(cause)
                .push_bind(None::<String>)
                .push_bind(response)
                .push_bind((row.status != "rejected").then_some(35i64));
        });
        events
            .build()
            .execute(&mut *tx)
            .await
            .context("inserting events")?;
    }
    tx.commit().await.context("committing preloaded rows")?;
    Ok(())
}
