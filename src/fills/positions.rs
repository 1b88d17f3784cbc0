//! Positions and realised P&L from fills, by pair and by pair, source and strategy.
//!
//! Average-cost accounting per group, over its fills in the order they traded: a fill
//! that adds to the position (or opens it) moves the average entry price; one that
//! reduces it realises `closed volume × (price − average entry)` (sign-adjusted for a
//! short) and leaves the average unchanged; one that flips the position closes it and
//! opens the rest at its own price. Realised P&L is in the quote currency and before
//! fees; fees are summed separately per currency they were charged in.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::SqlitePool;

use crate::signal::Side;
use crate::store::StoreError;

/// One fill with what grouping needs of its order.
#[derive(Debug, Clone)]
pub struct PositionFill {
    pub pair: String,
    pub source: String,
    pub strategy: Option<String>,
    pub side: Side,
    pub volume: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub fee_currency: String,
}

/// A position: what the fills of one group add up to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Position {
    pub pair: String,
    /// Set in the per-strategy view only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Set in the per-strategy view only (`null` for signals without a strategy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Option<String>>,
    /// Net base volume: bought minus sold (negative is short).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub net_volume: Decimal,
    /// Average entry price of the open volume; `null` when flat.
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub avg_entry_price: Option<Decimal>,
    /// Realised profit or loss, in the quote currency, before fees.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub realised_pnl: Decimal,
    /// Fees paid, by the asset they were charged in.
    #[schema(value_type = BTreeMap<String, String>)]
    pub fees: BTreeMap<String, Decimal>,
    /// How many fills make it up.
    pub fills: u64,
}

/// Decimal places kept in an average entry price.
const AVG_DP: u32 = 10;

impl Position {
    /// Adds one fill (average-cost accounting, see the module header).
    pub fn apply(&mut self, side: Side, volume: Decimal, price: Decimal) {
        let signed = match side {
            Side::Buy => volume,
            Side::Sell => -volume,
        };
        let held = self.net_volume;
        let avg = self.avg_entry_price.unwrap_or_default();
        if held.is_zero() || held.is_sign_positive() == signed.is_sign_positive() {
            let total = held.abs().saturating_add(volume);
            let value = held
                .abs()
                .saturating_mul(avg)
                .saturating_add(volume.saturating_mul(price));
            self.avg_entry_price = value
                .checked_div(total)
                .map(|a| a.round_dp(AVG_DP).normalize());
        } else {
            let closed = volume.min(held.abs());
            let per_unit = if held.is_sign_positive() {
                price - avg
            } else {
                avg - price
            };
            self.realised_pnl = self
                .realised_pnl
                .saturating_add(closed.saturating_mul(per_unit))
                .normalize();
            if volume > held.abs() {
                self.avg_entry_price = Some(price);
            } else if volume == held.abs() {
                self.avg_entry_price = None;
            }
        }
        self.net_volume = held.saturating_add(signed).normalize();
    }

    fn add(&mut self, fill: &PositionFill) {
        self.apply(fill.side, fill.volume, fill.price);
        let fees = self.fees.entry(fill.fee_currency.clone()).or_default();
        *fees = fees.saturating_add(fill.fee).normalize();
        self.fills += 1;
    }
}

/// Positions by pair, and by pair, source and strategy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Positions {
    pub by_pair: Vec<Position>,
    pub by_strategy: Vec<Position>,
}

/// Computes both views over `fills`, given in the order they traded.
pub fn compute(fills: &[PositionFill]) -> Positions {
    let mut by_pair: BTreeMap<String, Position> = BTreeMap::new();
    let mut by_strategy: BTreeMap<(String, String, Option<String>), Position> = BTreeMap::new();
    for fill in fills {
        by_pair
            .entry(fill.pair.clone())
            .or_insert_with(|| Position {
                pair: fill.pair.clone(),
                ..Position::default()
            })
            .add(fill);
        let key = (
            fill.pair.clone(),
            fill.source.clone(),
            fill.strategy.clone(),
        );
        by_strategy
            .entry(key)
            .or_insert_with(|| Position {
                pair: fill.pair.clone(),
                source: Some(fill.source.clone()),
                strategy: Some(fill.strategy.clone()),
                ..Position::default()
            })
            .add(fill);
    }
    Positions {
        by_pair: by_pair.into_values().collect(),
        by_strategy: by_strategy.into_values().collect(),
    }
}

type FillRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
);

/// Every recorded fill with its order's pair, source, strategy and side, in the order
/// they traded, from the read pool.
pub async fn load(reader: &SqlitePool) -> Result<Vec<PositionFill>, StoreError> {
    let rows: Vec<FillRow> = sqlx::query_as(
        "SELECT o.pair, o.source, o.strategy, o.side, f.volume, f.price, f.fee, f.fee_currency
         FROM fills f JOIN orders o ON o.id = f.order_id ORDER BY f.at, f.id",
    )
    .fetch_all(reader)
    .await?;
    let number = |what: &str, text: &str| {
        text.parse::<Decimal>()
            .map_err(|e| StoreError::Corrupt(format!("fills.{what} `{text}`: {e}")))
    };
    rows.into_iter()
        .map(
            |(pair, source, strategy, side, volume, price, fee, fee_currency)| {
                Ok(PositionFill {
                    side: if side == "sell" {
                        Side::Sell
                    } else {
                        Side::Buy
                    },
                    volume: number("volume", &volume)?,
                    price: number("price", &price)?,
                    fee: number("fee", &fee)?,
                    pair,
                    source,
                    strategy,
                    fee_currency,
                })
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn fill(source: &str, side: Side, volume: &str, price: &str) -> PositionFill {
        PositionFill {
            pair: "XBTUSD".into(),
            source: source.into(),
            strategy: None,
            side,
            volume: dec(volume),
            price: dec(price),
            fee: dec("1"),
            fee_currency: "ZUSD".into(),
        }
    }

    #[test]
    fn buys_average_in_and_a_sell_realises_against_the_average() {
        let mut p = Position::default();
        p.apply(Side::Buy, dec("1"), dec("100"));
        p.apply(Side::Buy, dec("3"), dec("120"));
        assert_eq!(p.avg_entry_price, Some(dec("115")));
        p.apply(Side::Sell, dec("2"), dec("130"));
        assert_eq!(p.realised_pnl, dec("30"));
        assert_eq!(p.net_volume, dec("2"));
        assert_eq!(p.avg_entry_price, Some(dec("115")));
    }

    #[test]
    fn a_flip_closes_the_position_and_opens_the_rest_at_its_price() {
        let mut p = Position::default();
        p.apply(Side::Buy, dec("1"), dec("100"));
        p.apply(Side::Sell, dec("3"), dec("90"));
        assert_eq!(p.realised_pnl, dec("-10"));
        assert_eq!(p.net_volume, dec("-2"));
        assert_eq!(p.avg_entry_price, Some(dec("90")));
        p.apply(Side::Buy, dec("2"), dec("80"));
        assert_eq!(p.realised_pnl, dec("10"), "the short gained 10 a unit on 2");
        assert_eq!(p.net_volume, dec("0"));
        assert_eq!(p.avg_entry_price, None);
    }

    #[test]
    fn each_source_gets_its_own_position_and_the_pair_sums_them() {
        let fills = [
            fill("a", Side::Buy, "1", "100"),
            fill("b", Side::Buy, "1", "200"),
            fill("a", Side::Sell, "1", "150"),
        ];
        let positions = compute(&fills);
        assert_eq!(positions.by_pair.len(), 1);
        let pair = &positions.by_pair[0];
        assert_eq!(pair.net_volume, dec("1"));
        assert_eq!(
            pair.realised_pnl,
            dec("0"),
            "sold at the pair's average of 150"
        );
        assert_eq!(pair.fees["ZUSD"], dec("3"));
        assert_eq!(pair.fills, 3);
        let a = &positions.by_strategy[0];
        assert_eq!(
            (a.source.as_deref(), a.realised_pnl),
            (Some("a"), dec("50"))
        );
        assert_eq!(a.net_volume, dec("0"));
    }
}
