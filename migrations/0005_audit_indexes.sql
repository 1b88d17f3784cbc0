-- Audit listing (`GET /v1/orders`, src/store/listing.rs) at any history size: every
-- combination of the filters status, pair, source, strategy, since/until is answered
-- by seeks on an index whose equality columns are exactly the filters given, read in
-- row id order, newest first, stopping after one page.
--
-- How the listing uses these (the code pins each index with INDEXED BY):
-- * status and source have few values, so a filter that leaves one of them out is
--   answered by a merge of one seek per value (UNION ALL ... ORDER BY id, which SQLite
--   runs as a lazy merge). An index ending in (source, status) therefore serves the
--   filters with and without either of them.
-- * pair and strategy have many values and must be given to use an index led by them.
-- That needs one index per combination of pair and strategy: the four below. Filters
-- of one column keep the single-column indexes of 0001.
--
-- Write cost: each index adds one B-tree insert per order and, as all four hold status,
-- one entry move per status change. Measured at 1,000,000 orders (64 orders per
-- transaction, fsync left out): an insert went from ~85 to ~105 us, the two status
-- changes of an order from ~57 to ~120 us. Fewer indexes cannot serve every
-- combination exactly: a filter the index does not hold is checked row by row, and a
-- combination with no match ("pair=XBTUSD&status=unknown") then reads every XBTUSD
-- order. The cheapest one to give up is the last (pair and strategy together, the
-- rarest query); those filters would then read all of the strategy's orders.
-- Applying this migration to 1,000,000 orders took 13-18 s here, once.

-- status + source ("what failed from tv").
CREATE INDEX orders_by_source_status ON orders (source, status);
-- pair with status and/or source ("failed XBTUSD orders", "XBTUSD from tv").
CREATE INDEX orders_by_pair_source_status ON orders (pair, source, status);
-- strategy with status and/or source ("strategy alpha of tv").
CREATE INDEX orders_by_strategy_source_status ON orders (strategy, source, status);
-- pair and strategy together, with or without status and source.
CREATE INDEX orders_by_pair_strategy_source_status ON orders (pair, strategy, source, status);

-- Time ranges. `since`/`until` filter on created_at, but the page is read in id order;
-- the listing turns the time range into an id range (lo..hi) so it seeks instead of
-- walking every newer row. created_at normally rises with id, but a clock stepped back
-- (NTP, a VM restore) writes rows whose created_at is older than an earlier row's.
-- To keep the id range exact, every row gets a clock_level such that within one level
-- created_at never decreases as id grows:
--   level 0: the normal run of time;
--   level n > 0: rows written after a backward step, each put on the lowest level
--   whose newest row is not newer than it (a new level if none).
-- The insert computes the level (src/store/clock.rs, one seek on orders_by_clock for a
-- row in order). A trigger would keep it out of the insert statement, but measured
-- here any trigger on orders, even one that never fires, doubled the cost of a
-- one-row INSERT statement.
-- Within a level the first row at or after `since` (and the last before `until`) is
-- one seek on orders_by_clock; lo and hi are the min and max over the levels, usually
-- just level 0. The listing still applies the created_at filter: the id range only
-- narrows the scan, it never decides membership.
ALTER TABLE orders ADD COLUMN clock_level INTEGER NOT NULL DEFAULT 0;

-- Existing history: up to three passes, each moving the rows that are older than an
-- earlier row of their level one level up. Leftovers of a history with more nested
-- steps than that each get a level of their own, which stays correct (a level of one
-- row is in order) at the cost of two seeks per such row in a time-range query.
UPDATE orders SET clock_level = 1 WHERE id IN (
    SELECT id FROM (
        SELECT id, created_at < max(created_at) OVER (
            ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS late
        FROM orders WHERE clock_level = 0)
    WHERE late);
-- Level, then time: the seeks of the listing and of the insert, and the later passes.
-- New rows append at the right edge of level 0, the cheapest place in a B-tree.
CREATE INDEX orders_by_clock ON orders (clock_level, created_at);
UPDATE orders SET clock_level = 2 WHERE id IN (
    SELECT id FROM (
        SELECT id, created_at < max(created_at) OVER (
            ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS late
        FROM orders WHERE clock_level = 1)
    WHERE late);
UPDATE orders SET clock_level = 3 WHERE id IN (
    SELECT id FROM (
        SELECT id, created_at < max(created_at) OVER (
            ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS late
        FROM orders WHERE clock_level = 2)
    WHERE late);
UPDATE orders SET clock_level = 3 + id WHERE id IN (
    SELECT id FROM (
        SELECT id, created_at < max(created_at) OVER (
            ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS late
        FROM orders WHERE clock_level = 3)
    WHERE late);
