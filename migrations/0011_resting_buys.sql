-- Buys that may rest on the book (every order type but market) while placed or partly
-- filled: the risk state loads them at start-up (src/risk/ledger.rs). A partial index,
-- so the load reads only these rows, never the history of market orders that nothing
-- reported filled (those from before fills were tracked, or with no executions feed).
CREATE INDEX orders_resting_buys ON orders (status)
    WHERE status IN ('placed', 'partially_filled') AND side = 'buy' AND order_type <> 'market';
