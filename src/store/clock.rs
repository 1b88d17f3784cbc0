//! Clock levels: what lets a time range be read as an id range although the clock may
//! have stepped back while orders were written (migration 0005 explains the idea).
//!
//! The invariant, kept by [`CLOCK_LEVEL`] at every insert: within one `clock_level`,
//! `created_at` never decreases as the id grows. Level 0 is the normal run of time; a
//! row older than the newest row of level 0 goes to the lowest level whose newest row
//! is not newer than it, or to a new level. Then, per level, the first row at or after
//! a time is also the level's smallest id at or after it, and one seek on
//! `orders_by_clock` (clock_level, created_at) finds it.

/// The `clock_level` of a row being inserted, as an SQL expression with one parameter:
/// the row's `created_at` in milliseconds. For a row in order (the rule) it costs one
/// seek; only a row after a backward clock step walks the levels.
pub const CLOCK_LEVEL: &str = "(SELECT CASE
    WHEN t >= coalesce((SELECT max(created_at) FROM orders INDEXED BY orders_by_clock
                        WHERE clock_level = 0), t) THEN 0
    ELSE coalesce(
        (WITH RECURSIVE levels(level) AS (
             SELECT (SELECT min(clock_level) FROM orders INDEXED BY orders_by_clock
                     WHERE clock_level > 0)
             UNION ALL
             SELECT (SELECT min(clock_level) FROM orders INDEXED BY orders_by_clock
                     WHERE clock_level > levels.level)
             FROM levels WHERE levels.level IS NOT NULL)
         SELECT min(level) FROM levels WHERE level IS NOT NULL
             AND (SELECT max(created_at) FROM orders INDEXED BY orders_by_clock
                  WHERE clock_level = levels.level) <= t),
        (SELECT max(clock_level) + 1 FROM orders INDEXED BY orders_by_clock))
    END FROM (SELECT ? AS t))";

/// Every level in use, 0 first, one seek each (a loose index scan, which SQLite has no
/// operator for: the recursion asks the index for the next level after the last).
const LEVELS: &str = "WITH RECURSIVE levels(level) AS (
        SELECT 0
        UNION ALL
        SELECT (SELECT min(clock_level) FROM orders INDEXED BY orders_by_clock
                WHERE clock_level > levels.level)
        FROM levels WHERE levels.level IS NOT NULL)";

/// The smallest id of a row created at or after `?`, as a scalar subquery: per level,
/// the first such row in time (also the level's smallest such id), then the least over
/// the levels; NULL when there is none. With [`last_before`], every row created in a
/// time range has an id between the two, whatever the clock did.
pub fn first_at_or_after() -> String {
    format!(
        "({LEVELS} SELECT min((
            SELECT id FROM orders INDEXED BY orders_by_clock
            WHERE clock_level = levels.level AND created_at >= ?
            ORDER BY created_at, id LIMIT 1))
        FROM levels WHERE level IS NOT NULL)"
    )
}

/// The largest id of a row created before `?`, the same way.
pub fn last_before() -> String {
    format!(
        "({LEVELS} SELECT max((
            SELECT id FROM orders INDEXED BY orders_by_clock
            WHERE clock_level = levels.level AND created_at < ?
            ORDER BY created_at DESC, id DESC LIMIT 1))
        FROM levels WHERE level IS NOT NULL)"
    )
}
