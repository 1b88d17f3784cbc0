//! An order's execution totals: the sums over its fills that the order record carries.

use rust_decimal::Decimal;
use serde::Serialize;

use super::FillReport;

/// Decimal places kept in an average price (Kraken quotes at most 10).
const AVG_PRICE_DP: u32 = 10;

/// What an order traded so far; every field is `None` until its first fill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Execution {
    /// Base volume traded.
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub filled_volume: Option<Decimal>,
    /// Volume-weighted average price: `cost / filled_volume`.
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub avg_price: Option<Decimal>,
    /// Sum of the fees, in `fee_currency`.
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub fee: Option<Decimal>,
    /// The asset fees were charged in (the first fill's).
    pub fee_currency: Option<String>,
    /// Quote value traded, fees excluded.
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub cost: Option<Decimal>,
}

impl Execution {
    /// Adds one fill to the totals. A fee in another currency than the first fill's
    /// is kept on the fill's own row but cannot be summed here; it is logged.
    pub fn add(&mut self, fill: &FillReport) {
        let filled = self
            .filled_volume
            .unwrap_or_default()
            .saturating_add(fill.volume);
        let cost = self.cost.unwrap_or_default().saturating_add(fill.cost());
        let currency = self
            .fee_currency
            .get_or_insert_with(|| fill.fee_currency.clone());
        let mut fee = self.fee.unwrap_or_default();
        if *currency == fill.fee_currency {
            fee = fee.saturating_add(fill.fee);
        } else {
            tracing::warn!(trade = %fill.trade_id, currency = %fill.fee_currency,
                "a fee in a second currency is kept on its fill only");
        }
        self.filled_volume = Some(filled.normalize());
        self.cost = Some(cost.normalize());
        self.fee = Some(fee.normalize());
        self.avg_price = cost
            .checked_div(filled)
            .map(|avg| avg.round_dp(AVG_PRICE_DP).normalize());
    }

    /// Whether `volume` (the order's) has been traded in full.
    pub fn reaches(&self, volume: Option<Decimal>) -> bool {
        match (self.filled_volume, volume) {
            (Some(filled), Some(volume)) => filled >= volume,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fills::Liquidity;
    use chrono::Utc;
    use uuid::Uuid;

    fn fill(volume: &str, price: &str, fee: &str) -> FillReport {
        FillReport {
            client_order_id: Uuid::nil(),
            trade_id: format!("T-{volume}-{price}"),
            volume: volume.parse().unwrap(),
            price: price.parse().unwrap(),
            fee: fee.parse().unwrap(),
            fee_currency: "ZUSD".into(),
            liquidity: Liquidity::Maker,
            at: Utc::now(),
            completes: false,
        }
    }

    #[test]
    fn the_average_price_is_weighted_by_volume() {
        let mut totals = Execution::default();
        totals.add(&fill("0.1", "50000", "12"));
        totals.add(&fill("0.3", "51000", "36.72"));
        assert_eq!(totals.filled_volume, Some("0.4".parse().unwrap()));
        assert_eq!(totals.cost, Some("20300".parse().unwrap()));
        assert_eq!(totals.avg_price, Some("50750".parse().unwrap()));
        assert_eq!(totals.fee, Some("48.72".parse().unwrap()));
        assert_eq!(totals.fee_currency.as_deref(), Some("ZUSD"));
    }

    #[test]
    fn a_fee_in_another_currency_is_not_summed() {
        let mut totals = Execution::default();
        totals.add(&fill("1", "10", "0.1"));
        let mut other = fill("1", "12", "5");
        other.fee_currency = "XXBT".into();
        totals.add(&other);
        assert_eq!(totals.fee, Some("0.1".parse().unwrap()));
        assert_eq!(totals.avg_price, Some("11".parse().unwrap()));
    }

    #[test]
    fn an_order_is_complete_once_its_volume_is_traded() {
        let mut totals = Execution::default();
        assert!(!totals.reaches(Some("0.4".parse().unwrap())));
        totals.add(&fill("0.4", "1", "0"));
        assert!(totals.reaches(Some("0.4".parse().unwrap())));
        assert!(!totals.reaches(None));
    }
}
