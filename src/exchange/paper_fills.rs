//! The paper trader's fills: market orders fill at once at the last price, limit
//! orders when marketable, otherwise they rest until a later price crosses them. Each
//! fill charges the configured fee in the quote currency, moves the simulated
//! balances, and is reported on the fill stream like a real exchange's.

use std::collections::HashMap;

use chrono::Utc;
use rand::Rng;
use rust_decimal::Decimal;
use tokio::sync::mpsc;
use uuid::Uuid;

use serde_json::json;

use super::cancel::{CancelAttempt, CancelOutcome, CancelRequest};
use crate::fills::{ExecutionEvent, FillReport, Liquidity};
use crate::pairs::PairInfo;
use crate::signal::Side;

/// Decimal places a simulated fee is rounded to.
const FEE_DP: u32 = 8;

/// A limit order waiting on the simulated book.
#[derive(Debug, Clone)]
pub(super) struct Resting {
    pub client_order_id: Uuid,
    pub pair: PairInfo,
    pub side: Side,
    pub price: Decimal,
    pub volume: Decimal,
}

/// Whether a limit order at `limit` trades against the last price `last`.
pub(super) fn marketable(side: Side, limit: Decimal, last: Decimal) -> bool {
    match side {
        Side::Buy => last <= limit,
        Side::Sell => last >= limit,
    }
}

/// Resting orders, the fee, and the fill stream.
#[derive(Debug)]
pub(super) struct PaperBook {
    /// Fee in percent of a fill's cost.
    pub fee_pct: Decimal,
    pub resting: Vec<Resting>,
    sender: mpsc::UnboundedSender<ExecutionEvent>,
    receiver: Option<mpsc::UnboundedReceiver<ExecutionEvent>>,
}

impl Default for PaperBook {
    fn default() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        PaperBook {
            fee_pct: Decimal::new(40, 2),
            resting: Vec::new(),
            sender,
            receiver: Some(receiver),
        }
    }
}

/// An id in Kraken's shape (`XXXXX-XXXXX-XXXXXX`) after `prefix`, its first group
/// `first` characters long.
pub(super) fn kraken_like_id(prefix: &str, first: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    let mut part = |n: usize| -> String {
        (0..n)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    };
    format!("{prefix}{}-{}-{}", part(first), part(5), part(6))
}

/// A trade id in Kraken's shape, prefixed `PT` for paper.
fn trade_id() -> String {
    kraken_like_id("PT", 4)
}

impl PaperBook {
    /// The fill stream; `None` once taken.
    pub fn take_fills(&mut self) -> Option<mpsc::UnboundedReceiver<ExecutionEvent>> {
        self.receiver.take()
    }

    /// Fills `order` in full at `price`, moving `balances`, and reports it.
    pub fn fill(
        &self,
        order: &Resting,
        price: Decimal,
        liquidity: Liquidity,
        balances: &mut HashMap<String, Decimal>,
    ) -> FillReport {
        let cost = order.volume.saturating_mul(price);
        let fee = (cost.saturating_mul(self.fee_pct) / Decimal::ONE_HUNDRED)
            .round_dp(FEE_DP)
            .normalize();
        let (base, quote) = match order.side {
            Side::Buy => (order.volume, -(cost.saturating_add(fee))),
            Side::Sell => (-order.volume, cost.saturating_sub(fee)),
        };
        for (asset, delta) in [(&order.pair.base, base), (&order.pair.quote, quote)] {
            let held = balances.entry(asset.clone()).or_default();
            *held = held.saturating_add(delta).normalize();
        }
        let report = FillReport {
            client_order_id: order.client_order_id,
            trade_id: trade_id(),
            volume: order.volume,
            price,
            fee,
            fee_currency: order.pair.quote.clone(),
            liquidity,
            at: Utc::now(),
            completes: true,
        };
        // Nobody listens in tools that build an exchange without the service.
        let _ = self.sender.send(ExecutionEvent::Fill(report.clone()));
        report
    }

    /// Fills every resting order of `altname` that `last` crosses, at its own limit
    /// price (it was on the book: maker); returns how many filled.
    pub fn cross(
        &mut self,
        altname: &str,
        last: Decimal,
        balances: &mut HashMap<String, Decimal>,
    ) -> usize {
        let (crossed, kept): (Vec<Resting>, Vec<Resting>) = std::mem::take(&mut self.resting)
            .into_iter()
            .partition(|order| {
                order.pair.altname == altname && marketable(order.side, order.price, last)
            });
        self.resting = kept;
        for order in &crossed {
            self.fill(order, order.price, Liquidity::Maker, balances);
        }
        crossed.len()
    }

    /// Cancels `order` if it rests on the book; otherwise answers as Kraken does for
    /// an order that is not open.
    pub fn cancel(&mut self, order: &CancelRequest) -> CancelAttempt {
        let before = self.resting.len();
        self.resting
            .retain(|r| r.client_order_id != order.client_order_id);
        let (outcome, response) = if self.resting.len() < before {
            let response = json!({"error": [], "result": {"count": 1}});
            (CancelOutcome::Canceled, response)
        } else {
            let error = "EOrder:Unknown order".to_owned();
            let response = json!({"error": [error]});
            (CancelOutcome::NotOpen { error }, response)
        };
        CancelAttempt {
            request: json!({"cl_ord_id": order.client_order_id, "txid": order.txid}),
            response: Some(response.to_string()),
            elapsed: std::time::Duration::ZERO,
            outcome,
        }
    }

    /// The pairs that have resting orders, one each.
    pub fn resting_pairs(&self) -> Vec<PairInfo> {
        let mut pairs: Vec<PairInfo> = Vec::new();
        for order in &self.resting {
            if !pairs.iter().any(|p| p.altname == order.pair.altname) {
                pairs.push(order.pair.clone());
            }
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairs::PairTable;

    fn order(side: Side, price: &str) -> Resting {
        Resting {
            client_order_id: Uuid::new_v4(),
            pair: PairTable::snapshot().get("XBTUSD").unwrap().clone(),
            side,
            price: price.parse().unwrap(),
            volume: "0.5".parse().unwrap(),
        }
    }

    #[test]
    fn a_buy_is_marketable_at_or_below_its_limit_and_a_sell_at_or_above() {
        let limit: Decimal = "100".parse().unwrap();
        assert!(marketable(Side::Buy, limit, "99".parse().unwrap()));
        assert!(marketable(Side::Buy, limit, limit));
        assert!(!marketable(Side::Buy, limit, "101".parse().unwrap()));
        assert!(marketable(Side::Sell, limit, "101".parse().unwrap()));
        assert!(!marketable(Side::Sell, limit, "99".parse().unwrap()));
    }

    #[test]
    fn a_fill_charges_the_fee_in_quote_and_moves_both_balances() {
        let mut book = PaperBook::default();
        let mut fills = book.take_fills().unwrap();
        let mut balances = HashMap::from([("ZUSD".to_owned(), "100000".parse().unwrap())]);
        let report = book.fill(
            &order(Side::Buy, "0"),
            "50000".parse().unwrap(),
            Liquidity::Taker,
            &mut balances,
        );
        assert_eq!(
            report.fee,
            "100".parse::<Decimal>().unwrap(),
            "0.40% of 25000"
        );
        assert_eq!(report.fee_currency, "ZUSD");
        assert_eq!(balances["XXBT"], "0.5".parse::<Decimal>().unwrap());
        assert_eq!(balances["ZUSD"], "74900".parse::<Decimal>().unwrap());
        assert_eq!(fills.try_recv().unwrap(), ExecutionEvent::Fill(report));
    }

    #[test]
    fn a_price_crossing_a_resting_limit_fills_it_at_its_limit_as_maker() {
        let mut book = PaperBook::default();
        let mut balances = HashMap::new();
        book.resting.push(order(Side::Buy, "49000"));
        book.resting.push(order(Side::Sell, "52000"));
        assert_eq!(
            book.cross("XBTUSD", "49500".parse().unwrap(), &mut balances),
            0
        );
        assert_eq!(
            book.cross("XBTUSD", "48000".parse().unwrap(), &mut balances),
            1
        );
        assert_eq!(book.resting.len(), 1);
        let mut fills = book.take_fills().unwrap();
        let Ok(ExecutionEvent::Fill(report)) = fills.try_recv() else {
            panic!("no fill");
        };
        assert_eq!(report.price, "49000".parse::<Decimal>().unwrap());
        assert_eq!(report.liquidity, Liquidity::Maker);
        assert_eq!(book.resting_pairs().len(), 1);
    }
}
