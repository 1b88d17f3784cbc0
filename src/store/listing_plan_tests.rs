//! The plans of the audit listing: `EXPLAIN QUERY PLAN` of every combination of the six
//! filters shows index seeks only (no table or index read from one end, no sort), each
//! on the index the plan names.

use chrono::Duration;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::SqlitePool;

use super::tests::{at, START};
use super::*;
use crate::store::clock::CLOCK_LEVEL;
use crate::store::MIGRATOR;

/// `EXPLAIN QUERY PLAN` of `statement`, one detail line per step.
async fn explain(pool: &SqlitePool, statement: &Statement) -> Vec<String> {
    let explained = Statement {
        sql: format!("EXPLAIN QUERY PLAN {}", statement.sql),
        binds: statement.binds.clone(),
    };
    let rows: Vec<(i64, i64, i64, String)> = explained.query_as().fetch_all(pool).await.unwrap();
    rows.into_iter().map(|(_, _, _, detail)| detail).collect()
}

/// No step reads the orders table or an index of it from one end, nor sorts.
fn assert_seeks_only(plan: &[String], what: &str, bounded: bool) {
    for line in plan {
        let words: Vec<&str> = line.split_whitespace().collect();
        let on_orders = words.get(1) == Some(&"orders");
        assert!(
            !(words.first() == Some(&"SCAN") && on_orders),
            "{what}: {line}\n{plan:#?}"
        );
        assert!(!line.contains("TEMP B-TREE"), "{what}: {line}\n{plan:#?}");
        if bounded && words.first() == Some(&"SEARCH") && on_orders {
            // The page's seeks end at an id; the time-to-id seeks are within a level.
            let bound = if line.contains("orders_by_clock") {
                "clock_level"
            } else {
                "id<?"
            };
            assert!(
                line.contains(bound),
                "{what}: the seek is not bounded by {bound}: {line}"
            );
        }
    }
}

#[tokio::test]
async fn every_filter_combination_is_planned_as_index_seeks_without_a_sort() {
    let pool = SqlitePoolOptions::new()
        .connect("sqlite::memory:")
        .await
        .unwrap();
    MIGRATOR.run(&pool).await.unwrap();
    for mask in 0u32..64 {
        let on = |bit: u32| mask & (1 << bit) != 0;
        let filter = OrderFilter {
            status: on(0).then_some(OrderStatus::Failed),
            pair: on(1).then(|| "XBTUSD".to_owned()),
            source: on(2).then(|| "tv".to_owned()),
            strategy: on(3).then(|| "alpha".to_owned()),
            since: on(4).then(|| at(START)),
            until: on(5).then(|| at(START) + Duration::days(1)),
            before_id: None,
        };
        let plan = plan_for(&filter);
        let values = |given: bool, each: bool, value: &str| -> Vec<Option<String>> {
            match (given, each) {
                (true, _) => vec![Some(value.to_owned())],
                (false, true) => vec![Some("a".into()), Some("b".into()), Some("c".into())],
                (false, false) => vec![None],
            }
        };
        let statuses = values(on(0), plan.each_status, "failed");
        let sources = values(on(2), plan.each_source, "tv");
        let page = page_statement(&filter, plan, &statuses, &sources, 100);
        let lines = explain(&pool, &page).await;
        let what = format!("{filter:?}");
        if std::env::var("SHOW_PLANS").is_ok() {
            println!("{what}\n  {}\n  {}", page.sql, lines.join("\n  "));
        }
        assert_seeks_only(&lines, &what, true);
        if let Some(index) = plan.index {
            let searches = lines
                .iter()
                .filter(|l| l.starts_with("SEARCH orders") && !l.contains("orders_by_clock"));
            assert!(searches.clone().count() >= 1, "{what}: {lines:#?}");
            for line in searches {
                assert!(line.contains(index), "{what}: {line}");
            }
        }
        if plan.each_status || plan.each_source {
            assert!(
                lines.iter().any(|l| l.contains("MERGE")),
                "{what}: {lines:#?}"
            );
        }
    }
    for fallback_of in ["XBTUSD", "alpha"] {
        let filter = OrderFilter {
            pair: (fallback_of == "XBTUSD").then(|| "XBTUSD".to_owned()),
            strategy: Some("alpha".to_owned()),
            ..OrderFilter::default()
        };
        let page = page_statement(&filter, fallback(&filter), &[None], &[None], 5);
        assert_seeks_only(&explain(&pool, &page).await, "fallback", true);
    }
    let values = Statement {
        sql: PRESENT_SOURCES.to_owned(),
        binds: Vec::new(),
    };
    assert_seeks_only(&explain(&pool, &values).await, "present sources", false);
    // What every insert adds: the clock level, by seeks too.
    let level = Statement {
        sql: format!("SELECT {CLOCK_LEVEL}"),
        binds: vec![Value::Int(START)],
    };
    assert_seeks_only(&explain(&pool, &level).await, "clock level", false);
}
