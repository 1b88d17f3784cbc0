//! The rules, one small named unit per file. Each reads an [`Input`] and pushes a
//! [`Reason`] naming itself for every way the signal fails it; a limit that is not
//! configured does not apply (except `allowed_pairs`: none listed, none allowed).
//!
//! A rule that needs a value the market could not give (a price, a balance) refuses:
//! the engine fails closed, and the detail says what was missing.

pub mod daily_notional;
pub mod exchange_minimum;
pub mod halt;
pub mod leverage;
pub mod notional;
pub mod order_rate;
pub mod order_types;
pub mod pairs;
pub mod position;
pub mod price_band;
pub mod size;
pub mod staleness;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::resolve::{NoNotional, Resolved};
use super::view::{MarketView, RiskState};
use super::Reason;
use crate::config::{RiskConfig, SourceConfig};
use crate::pairs::PairInfo;
use crate::signal::Signal;

/// Everything a rule may look at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub config: &'a RiskConfig,
    pub source: &'a SourceConfig,
    pub signal: &'a Signal,
    pub market: &'a MarketView,
    pub state: &'a RiskState,
    pub now: DateTime<Utc>,
    /// The signal resolved against the pair (volume, rounded prices, notional).
    pub order: &'a Resolved,
}

/// A rule: pushes one reason per failure.
pub type Rule = fn(&Input<'_>, &mut Vec<Reason>);

/// Every rule, in the order their reasons are listed.
pub const ALL: &[Rule] = &[
    halt::check,
    pairs::check,
    order_types::check,
    leverage::check,
    staleness::check,
    size::check,
    notional::check,
    exchange_minimum::check,
    order_rate::check,
    daily_notional::check,
    position::check,
    price_band::check,
];

/// Whether `name` (from config, any case, `/` allowed) designates `pair`: its altname,
/// canonical id or wsname.
pub fn names_pair(name: &str, pair: &PairInfo) -> bool {
    let name = name.to_ascii_uppercase().replace('/', "");
    name == pair.altname.to_ascii_uppercase()
        || name == pair.id.to_ascii_uppercase()
        || pair
            .wsname
            .as_deref()
            .is_some_and(|ws| name == ws.to_ascii_uppercase().replace('/', ""))
}

/// The entry of a by-pair table that applies to `pair`, under whichever name it was
/// written.
pub fn for_pair<'m, V>(table: &'m BTreeMap<String, V>, pair: &PairInfo) -> Option<&'m V> {
    table.get(&pair.altname).or_else(|| {
        table
            .iter()
            .find(|(name, _)| names_pair(name, pair))
            .map(|(_, v)| v)
    })
}

/// The order's notional for a rule that needs one: `Ok(None)` when the volume is
/// unknown (another reason already says why), `Err` with a refusal when no price is.
pub fn needed_notional(
    order: &Resolved,
    rule: &str,
) -> Result<Option<rust_decimal::Decimal>, Reason> {
    match &order.notional {
        Ok(n) => Ok(Some(*n)),
        Err(NoNotional::VolumeUnknown) => Ok(None),
        Err(NoNotional::NoPrice(why)) => {
            Err(Reason::new(rule, format!("cannot value the order: {why}")))
        }
    }
}
