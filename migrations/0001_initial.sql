-- tradehook schema. Migrations are append-only: never edit a released file.
-- Times are Unix milliseconds (UTC); decimals are stored as exact decimal text.

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id TEXT    NOT NULL UNIQUE,
    source          TEXT    NOT NULL,
    strategy        TEXT,
    pair            TEXT    NOT NULL,   -- Kraken altname (XBTUSD)
    side            TEXT    NOT NULL,   -- buy | sell
    order_type      TEXT    NOT NULL,
    volume          TEXT,               -- base volume as sent, rounded to lot_decimals
    price           TEXT,
    notional        TEXT,               -- quote-currency value used by the risk rules
    status          TEXT    NOT NULL,
    txid            TEXT,
    error           TEXT,               -- Kraken's error string, when it refused
    reasons         TEXT    NOT NULL DEFAULT '[]',  -- JSON [{rule, detail}]
    signal          TEXT    NOT NULL,   -- the validated signal, JSON (never a secret)
    content_hash    TEXT    NOT NULL,   -- SHA-256 of the signal, for 409 detection
    userref         INTEGER,            -- used instead of cl_ord_id with a conditional close
    deadline_at     INTEGER,            -- the Kraken deadline of the latest send
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Listing is newest first (id DESC), filtered by one of these.
CREATE INDEX orders_by_status   ON orders (status, id);
CREATE INDEX orders_by_pair     ON orders (pair, id);
CREATE INDEX orders_by_source   ON orders (source, id);
CREATE INDEX orders_by_strategy ON orders (strategy, id);
CREATE INDEX orders_by_created  ON orders (created_at);

-- Append-only audit trail: one row per status change or exchange attempt.
CREATE TABLE order_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    at       INTEGER NOT NULL,
    status   TEXT    NOT NULL,
    cause    TEXT    NOT NULL,
    request  TEXT,             -- JSON, as sent, without key, secret or signature
    response TEXT              -- the exchange's raw answer
);
CREATE INDEX order_events_by_order ON order_events (order_id, id);

CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;

-- Last nonce issued per API key (identified by a hash of the key, never the key).
CREATE TABLE nonces (
    key_id     TEXT    PRIMARY KEY,
    last_nonce INTEGER NOT NULL
);

-- Small durable switches: the kill switch, the circuit breaker's failure count.
CREATE TABLE control (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
