//! The cached pair table: the last `AssetPairs` answer, kept across restarts.

use chrono::{DateTime, Utc};

use super::{from_millis, Store, StoreError};
use crate::pairs::{PairInfo, PairTable};

/// Replaces the cached table (through the writer).
pub async fn save(store: &Store, table: &PairTable, at: DateTime<Utc>) -> Result<(), StoreError> {
    let pairs: Vec<&PairInfo> = table.iter().collect();
    let json = serde_json::to_string(&pairs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.save_pairs(json, at).await
}

/// The cached table and when it was fetched, if one was ever saved.
pub async fn load(store: &Store) -> Result<Option<(PairTable, DateTime<Utc>)>, StoreError> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT pairs, fetched_at FROM pair_cache WHERE id = 1")
            .fetch_optional(store.reader())
            .await?;
    let Some((json, at)) = row else {
        return Ok(None);
    };
    let pairs: Vec<PairInfo> =
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Some((PairTable::from_pairs(pairs), from_millis(at))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_saved_table_loads_back_with_every_pair() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&url, std::time::Duration::from_secs(1))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        assert!(load(&store).await.unwrap().is_none());
        let table = PairTable::snapshot();
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        save(&store, &table, at).await.unwrap();
        save(&store, &table, at).await.unwrap();
        let (loaded, fetched_at) = load(&store).await.unwrap().unwrap();
        assert_eq!(fetched_at, at);
        assert_eq!(loaded.iter().count(), table.iter().count());
        assert_eq!(loaded.get("XBT/USD"), table.get("XBTUSD"));
    }
}
