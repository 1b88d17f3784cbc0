-- The last Kraken AssetPairs answer, so a restart without network still knows every
-- pair Kraken listed (not only the snapshot built into the binary).
CREATE TABLE pair_cache (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    pairs      TEXT    NOT NULL,   -- JSON array of PairInfo
    fetched_at INTEGER NOT NULL
);
