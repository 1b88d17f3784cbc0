-- How long the exchange call an event records took, in milliseconds (NULL for events
-- that record no call).
ALTER TABLE order_events ADD COLUMN elapsed_ms INTEGER;
