//! Tests of the audit listing against SQLite with the real migrations: results equal a
//! plain filter over all rows, also when the clock stepped back while orders were
//! written, before or after migration 0005.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

use super::*;
use crate::store::orders::NewOrder;

/// A database in `dir` with the migrations up to `upto` (a copy of the folder holding
/// only those, so the same database can be migrated further later).
async fn database(dir: &tempfile::TempDir, upto: u32) -> SqlitePool {
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    let folder = dir.path().join(format!("migrations-{upto}"));
    std::fs::create_dir_all(&folder).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let version: u32 = name[..4].parse().unwrap();
        if version <= upto {
            std::fs::copy(&path, folder.join(name)).unwrap();
        }
    }
    sqlx::migrate::Migrator::new(folder.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool
}

/// What the reference filter needs of a row.
#[derive(Debug, Clone)]
struct Row {
    id: i64,
    status: &'static str,
    pair: &'static str,
    source: &'static str,
    strategy: Option<&'static str>,
    created_at: i64,
}

const STATUSES: [&str; 4] = ["placed", "failed", "rejected", "expired"];
const PAIRS: [&str; 3] = ["XBTUSD", "ETHUSD", "SOLUSD"];
const SOURCES: [&str; 3] = ["hook", "tv", "octobot"];
const STRATEGIES: [Option<&str>; 4] = [Some("alpha"), Some("beta"), Some("gamma"), None];

fn signal(row: &Row) -> crate::signal::Signal {
    let body = format!(
        r#"{{"pair":"{}","side":"buy","order_type":"market","volume":"0.01"}}"#,
        row.pair
    );
    let (mut signal, _) = crate::signal::parse_signal(body.as_bytes()).unwrap();
    signal.strategy = row.strategy.map(str::to_owned);
    signal
}

/// Inserts `row` the way the service does, which assigns its clock level.
async fn insert(pool: &SqlitePool, row: &Row) -> i64 {
    let signal = signal(row);
    let new = NewOrder {
        client_order_id: uuid::Uuid::new_v4(),
        source: row.source,
        signal: &signal,
        content_hash: "",
        pair: row.pair,
        volume: None,
        price: None,
        notional: None,
        status: row.status.parse().unwrap(),
        reasons: serde_json::json!([]),
        userref: None,
        deadline: None,
    };
    let mut conn = pool.acquire().await.unwrap();
    let record = crate::store::orders::insert(&mut conn, &new, "test", at(row.created_at))
        .await
        .unwrap()
        .expect("a new client order ID");
    record.id
}

/// Inserts `row` with plain SQL, as a version before migration 0005 did.
async fn insert_before_0005(pool: &SqlitePool, row: &Row) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO orders (client_order_id, source, strategy, pair, side, order_type,
             status, signal, content_hash, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'buy', 'market', ?, ?, '', ?, ?) RETURNING id",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(row.source)
    .bind(row.strategy)
    .bind(row.pair)
    .bind(row.status)
    .bind(serde_json::to_string(&signal(row)).unwrap())
    .bind(row.created_at)
    .bind(row.created_at)
    .fetch_one(pool)
    .await
    .unwrap()
}

pub(super) fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).unwrap()
}

/// A time in the test histories (2024-05-01T12:00:00Z).
pub(super) const START: i64 = 1_714_564_800_000;

/// Rows whose created_at mostly rises, with backward steps (some nested, one far-future
/// glitch and its correction) and ties.
fn history(rng: &mut StdRng, n: usize) -> Vec<Row> {
    let mut clock = START;
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        clock += match rng.gen_range(0..100) {
            0..=4 => -rng.gen_range(1..120_000),
            5 => 86_400_000 * 365,
            6 if clock > START + 86_400_000 => -86_400_000 * 365,
            7..=15 => 0,
            _ => rng.gen_range(1..5_000),
        };
        rows.push(Row {
            id: i as i64,
            status: STATUSES[rng.gen_range(0..STATUSES.len())],
            pair: PAIRS[rng.gen_range(0..PAIRS.len())],
            source: SOURCES[rng.gen_range(0..SOURCES.len())],
            strategy: STRATEGIES[rng.gen_range(0..STRATEGIES.len())],
            created_at: clock,
        });
    }
    rows
}

fn random_filter(rng: &mut StdRng, rows: &[Row]) -> OrderFilter {
    let time = |rng: &mut StdRng| {
        let row = &rows[rng.gen_range(0..rows.len())];
        at(row.created_at + rng.gen_range(-1..=1))
    };
    let half = |rng: &mut StdRng| rng.gen_bool(0.5);
    OrderFilter {
        status: half(rng).then(|| STATUSES[rng.gen_range(0..STATUSES.len())].parse().unwrap()),
        pair: half(rng).then(|| PAIRS[rng.gen_range(0..PAIRS.len())].to_owned()),
        source: half(rng).then(|| SOURCES[rng.gen_range(0..SOURCES.len())].to_owned()),
        strategy: half(rng)
            .then(|| ["alpha", "beta", "gamma", "delta"][rng.gen_range(0..4)].to_owned()),
        since: half(rng).then(|| time(rng)),
        until: half(rng).then(|| time(rng)),
        before_id: None,
    }
}

/// The plain definition: every row, filtered one by one, newest first.
fn reference(rows: &[Row], f: &OrderFilter) -> Vec<i64> {
    let mut ids: Vec<i64> = rows
        .iter()
        .filter(|r| f.status.is_none_or(|s| s.as_str() == r.status))
        .filter(|r| f.pair.as_deref().is_none_or(|p| p == r.pair))
        .filter(|r| f.source.as_deref().is_none_or(|s| s == r.source))
        .filter(|r| f.strategy.is_none() || f.strategy.as_deref() == r.strategy)
        .filter(|r| f.since.is_none_or(|t| r.created_at >= to_millis(t)))
        .filter(|r| f.until.is_none_or(|t| r.created_at < to_millis(t)))
        .map(|r| r.id)
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

/// Every page of `filter`, following the cursor the way the API does.
async fn all_pages(pool: &SqlitePool, filter: &OrderFilter, limit: u32) -> Vec<i64> {
    let mut filter = filter.clone();
    let mut seen = Vec::new();
    loop {
        let page = list(pool, &filter, limit).await.unwrap();
        seen.extend(page.iter().map(|o| o.id));
        match page.last() {
            Some(last) if page.len() == limit as usize => filter.before_id = Some(last.id),
            _ => return seen,
        }
    }
}

async fn load(pool: &SqlitePool, rows: &mut [Row]) {
    for row in rows.iter_mut() {
        row.id = insert(pool, row).await;
    }
}

async fn load_before_0005(pool: &SqlitePool, rows: &mut [Row]) {
    for row in rows.iter_mut() {
        row.id = insert_before_0005(pool, row).await;
    }
}

/// Within each clock level, created_at never falls as id rises.
async fn assert_levels_in_order(pool: &SqlitePool) {
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT clock_level, created_at FROM orders ORDER BY clock_level, id")
            .fetch_all(pool)
            .await
            .unwrap();
    for pair in rows.windows(2) {
        if pair[0].0 == pair[1].0 {
            assert!(
                pair[0].1 <= pair[1].1,
                "level {} goes back in time",
                pair[0].0
            );
        }
    }
}

#[tokio::test]
async fn listing_equals_a_plain_filter_when_the_clock_steps_back() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(&dir, u32::MAX).await;
    let mut rng = StdRng::seed_from_u64(7);
    let mut rows = history(&mut rng, 400);
    load(&pool, &mut rows).await;
    assert_levels_in_order(&pool).await;
    let levels: i64 = sqlx::query_scalar("SELECT max(clock_level) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(levels >= 2, "the history has nested backward steps");
    for _ in 0..300 {
        let filter = random_filter(&mut rng, &rows);
        let limit = rng.gen_range(1..40);
        let expected = reference(&rows, &filter);
        assert_eq!(
            all_pages(&pool, &filter, limit).await,
            expected,
            "{filter:?}"
        );
    }
}

#[tokio::test]
async fn the_migration_assigns_levels_to_existing_out_of_order_history() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(&dir, 4).await;
    let mut rng = StdRng::seed_from_u64(11);
    let mut rows = history(&mut rng, 300);
    load_before_0005(&pool, &mut rows).await;
    pool.close().await;
    let pool = database(&dir, u32::MAX).await;
    assert_levels_in_order(&pool).await;
    // Rows written after the migration join the levels it built.
    let mut more = history(&mut rng, 100);
    for row in &mut more {
        row.created_at += rng.gen_range(-600_000..600_000);
    }
    load(&pool, &mut more).await;
    assert_levels_in_order(&pool).await;
    rows.extend(more);
    for _ in 0..200 {
        let filter = random_filter(&mut rng, &rows);
        let expected = reference(&rows, &filter);
        assert_eq!(all_pages(&pool, &filter, 25).await, expected, "{filter:?}");
    }
}

#[tokio::test]
async fn too_many_sources_to_merge_fall_back_to_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(&dir, u32::MAX).await;
    let names: Vec<&'static str> = (0..30)
        .map(|i| &*Box::leak(format!("source{i}").into_boxed_str()))
        .collect();
    let mut rows: Vec<Row> = (0..200)
        .map(|i| Row {
            id: 0,
            status: STATUSES[i % 4],
            pair: PAIRS[i % 3],
            source: names[i % names.len()],
            strategy: Some("alpha"),
            created_at: START + i as i64,
        })
        .collect();
    load(&pool, &mut rows).await;
    let filter = OrderFilter {
        pair: Some("XBTUSD".into()),
        strategy: Some("alpha".into()),
        ..OrderFilter::default()
    };
    assert_eq!(
        all_pages(&pool, &filter, 7).await,
        reference(&rows, &filter)
    );
}
