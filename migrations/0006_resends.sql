-- How often an order was resent after being proven never accepted
-- (exchange.resend_expired allows it at most once per order).
ALTER TABLE orders ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
