-- Outbound notifications (issue 12): the durable outbox. One row per notification and
-- channel, written by the writer in the same transaction as the change it reports,
-- then delivered (at least once) by the notification worker.
CREATE TABLE notifications (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,   -- delivery order
    id              TEXT    NOT NULL UNIQUE,             -- stable id (webhook-id)
    channel         TEXT    NOT NULL,                    -- [[notify]] name
    event           TEXT    NOT NULL,                    -- order_placed, halted, ...
    order_key       TEXT,                                -- delivered in seq order per key: the client
                                                         -- order ID of order events, `kill_switch` for halted/resumed
    dedupe          TEXT,                                -- once-only events (order_unknown, daily_summary)
    data            TEXT    NOT NULL,                    -- JSON `data` of the message (never a secret)
    status          TEXT    NOT NULL DEFAULT 'pending',  -- pending | delivered | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    retry_from      INTEGER NOT NULL,                    -- the give-up age counts from here
    last_error      TEXT,                                -- the last failure, never a secret
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);

CREATE UNIQUE INDEX notifications_dedupe ON notifications (channel, dedupe)
    WHERE dedupe IS NOT NULL;
CREATE INDEX notifications_by_status ON notifications (status, seq);
CREATE INDEX notifications_pending ON notifications (channel, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notifications_pending_by_order ON notifications (channel, order_key, seq)
    WHERE status = 'pending';
