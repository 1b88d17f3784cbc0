-- Execution truth (issue 11): what an order traded, each fill once, and cancels.
-- Decimals are exact text, as everywhere; times are Unix milliseconds (UTC).

-- Totals over the order's fills, kept by the writer with every fill it records.
ALTER TABLE orders ADD COLUMN filled_volume TEXT;  -- base volume traded
ALTER TABLE orders ADD COLUMN avg_price     TEXT;  -- cost / filled_volume
ALTER TABLE orders ADD COLUMN fee           TEXT;  -- sum of fees, in fee_currency
ALTER TABLE orders ADD COLUMN fee_currency  TEXT;
ALTER TABLE orders ADD COLUMN cost          TEXT;  -- quote value traded, fees excluded

-- One row per trade of one of our orders. The exchange's trade id is unique: a fill
-- seen twice (a snapshot after a reconnect, a REST gap fill) is recorded once. The
-- writer decides that in memory; the index is the last line of defence.
CREATE TABLE fills (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id     INTEGER NOT NULL REFERENCES orders (id),
    trade_id     TEXT    NOT NULL,
    volume       TEXT    NOT NULL,
    price        TEXT    NOT NULL,
    cost         TEXT    NOT NULL,
    fee          TEXT    NOT NULL,
    fee_currency TEXT    NOT NULL,
    liquidity    TEXT    NOT NULL,   -- maker | taker
    at           INTEGER NOT NULL,   -- when the exchange says it traded
    recorded_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX fills_by_trade ON fills (trade_id);
CREATE INDEX fills_by_order ON fills (order_id, id);
-- Positions read every fill with its order's pair, source and strategy.
CREATE INDEX fills_by_at ON fills (at);

CREATE TRIGGER fills_no_update BEFORE UPDATE ON fills
BEGIN SELECT RAISE(ABORT, 'fills is append-only'); END;
CREATE TRIGGER fills_no_delete BEFORE DELETE ON fills
BEGIN SELECT RAISE(ABORT, 'fills is append-only'); END;
