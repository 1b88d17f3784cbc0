//! The REST gap fill after the executions feed (re)subscribes: the snapshot repeats
//! only the last 50 trades, so after a long outage the trades since the last
//! recorded fill are asked of the exchange's history (Kraken `TradesHistory`) and
//! those of orders still open here become fill reports. The writer records each
//! trade id once, so what the snapshot or the stream already delivered is not
//! recorded twice.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{ExecutionEvent, FillReport};
use crate::exchange::{Exchange, ExchangeTrade};
use crate::store::{from_millis, Store};

/// How far before the last recorded fill the history is read, for trades recorded
/// out of order or clocks that differ.
const OVERLAP: Duration = Duration::seconds(60);

/// When the last recorded fill traded, if any fill is recorded.
async fn last_fill_at(store: &Store) -> Option<DateTime<Utc>> {
    let at: Option<i64> = sqlx::query_scalar("SELECT at FROM fills ORDER BY id DESC LIMIT 1")
        .fetch_optional(store.reader())
        .await
        .map_err(|err| tracing::warn!(error = %err, "gap fill: cannot read the last fill"))
        .ok()
        .flatten();
    at.map(from_millis)
}

/// The trades of orders still open here that the exchange lists since the last
/// recorded fill (or, with none recorded, since the oldest open order was created),
/// oldest first, as fill reports. Nothing when no order is open here.
pub async fn missed_fills(store: &Store, exchange: &dyn Exchange) -> Vec<ExecutionEvent> {
    let open = match crate::store::orders::open_on_exchange(store.reader()).await {
        Ok(open) => open,
        Err(err) => {
            tracing::warn!(error = %err, "gap fill: cannot read the open orders");
            return Vec::new();
        }
    };
    let ours: HashMap<String, Uuid> = open
        .iter()
        .filter_map(|o| Some((o.txid.clone()?, o.client_order_id)))
        .collect();
    let Some(oldest) = open.iter().map(|o| o.created_at).min() else {
        return Vec::new();
    };
    let since = last_fill_at(store).await.unwrap_or(oldest) - OVERLAP;
    let trades = match exchange.trades_since(since).await {
        Ok(trades) => trades,
        Err(err) => {
            tracing::warn!(error = %err, "gap fill: the exchange's trade history is unavailable");
            return Vec::new();
        }
    };
    reports(trades, &ours)
}

/// The trades of `ours` (txid → client order ID) as fill reports, oldest first.
fn reports(mut trades: Vec<ExchangeTrade>, ours: &HashMap<String, Uuid>) -> Vec<ExecutionEvent> {
    trades.sort_by_key(|t| t.at);
    trades
        .into_iter()
        .filter_map(|t| {
            let client_order_id = *ours.get(&t.order_txid)?;
            Some(ExecutionEvent::Fill(FillReport {
                client_order_id,
                trade_id: t.trade_id,
                volume: t.volume,
                price: t.price,
                fee: t.fee,
                fee_currency: t.fee_currency,
                liquidity: t.liquidity,
                at: t.at,
                completes: false,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fills::Liquidity;
    use rust_decimal::Decimal;

    fn trade(order: &str, id: &str, second: i64) -> ExchangeTrade {
        ExchangeTrade {
            order_txid: order.into(),
            trade_id: id.into(),
            volume: Decimal::ONE,
            price: Decimal::TEN,
            fee: Decimal::ZERO,
            fee_currency: "USD".into(),
            liquidity: Liquidity::Taker,
            at: DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap(),
        }
    }

    #[test]
    fn only_trades_of_orders_open_here_become_reports_oldest_first() {
        let ours = HashMap::from([("O-1".to_owned(), Uuid::nil())]);
        let trades = vec![
            trade("O-1", "T-2", 2),
            trade("O-X", "T-3", 3),
            trade("O-1", "T-1", 1),
        ];
        let ids: Vec<String> = reports(trades, &ours)
            .into_iter()
            .map(|e| match e {
                ExecutionEvent::Fill(f) => f.trade_id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, ["T-1", "T-2"]);
    }
}
