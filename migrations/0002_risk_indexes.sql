-- Indexes for the risk rules (src/risk/state.rs). Partial on `status <> 'rejected'`:
-- a runaway source flooding us with refused signals must not slow down the checks,
-- and refused orders never count toward any limit.

-- Order-rate windows and the daily notional: a range on created_at, covering.
CREATE INDEX orders_accepted_by_created
    ON orders (created_at, pair, source, status, notional)
    WHERE status <> 'rejected';

-- Position: orders confirmed since the balance was read.
CREATE INDEX orders_accepted_by_updated
    ON orders (updated_at)
    WHERE status <> 'rejected';
