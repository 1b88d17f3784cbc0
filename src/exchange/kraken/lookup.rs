//! Recognising our order in Kraken's `OpenOrders`/`ClosedOrders` answers.
//!
//! Every entry is checked here, whatever the request asked for: were Kraken ever to
//! ignore a filter (or, for the batched lookups of [`super::batch`], when the lists
//! are unfiltered), another order must never be taken for ours (that would mark an
//! unsent order `placed`).
//!
//! # Several candidates
//!
//! A `cl_ord_id` is our UUID, so one entry at most carries it. A `userref` (used for
//! orders with a conditional close) is only 32 bits and may be shared with other
//! orders, ours or not: an entry must then also have our pair, side, order type, sent
//! volume and an opening time that fits our deadline. When several *distinct* orders
//! (by txid) still fit, nothing tells ours apart: the answer is [`Match::Several`],
//! which the lookup reports as failed with an `ambiguous:` reason. The order then
//! stays `unknown` and no txid is ever adopted; a later lookup may settle it if the
//! other order leaves the time window.

use chrono::TimeDelta;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value};

use super::calls::OrderFilter;
use crate::exchange::OrderRequest;
use crate::pairs::PairInfo;

/// How the `Failed` reason of an ambiguous lookup starts.
pub const AMBIGUOUS: &str = "ambiguous";

/// What Kraken's lists say about one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// No entry is our order.
    Absent,
    /// Exactly one order (by txid) is ours, with its status.
    One { txid: String, state: String },
    /// Several distinct orders fit everything known of ours: never pick one.
    Several { txids: Vec<String> },
}

impl Match {
    /// The `Failed` reason of [`Match::Several`].
    pub fn ambiguity(txids: &[String]) -> String {
        format!(
            "{AMBIGUOUS}: {} orders at Kraken match this order ({}); it stays unknown \
             and no txid is adopted",
            txids.len(),
            txids.join(", ")
        )
    }
}

/// How our order is recognised: its `cl_ord_id`, or for an order with a close (which
/// Kraken does not let carry one) its `userref`.
pub fn filter_for(order: &OrderRequest) -> Result<OrderFilter, String> {
    match (&order.close, order.userref) {
        (None, _) => Ok(OrderFilter::ClOrdId(order.client_order_id)),
        (Some(_), Some(userref)) => Ok(OrderFilter::Userref(userref)),
        (Some(_), None) => Err("an order with a close has no userref to look it up by".into()),
    }
}

/// The entries of a `txid → order` map that can be `order`. `offset` is Kraken's
/// clock minus ours (zero if unknown), to judge `opentm` against our deadline.
pub fn candidates<'a>(
    map: &'a Map<String, Value>,
    order: &OrderRequest,
    filter: OrderFilter,
    offset: TimeDelta,
) -> Vec<(&'a String, &'a Value)> {
    map.iter()
        .filter(|(_, entry)| is_our_order(entry, order, filter, offset))
        .collect()
}

/// Settles what the open and closed lists (either may be empty) say together. An
/// order that closed between the two reads is in both under one txid: one order, in
/// its later (closed) state.
pub fn decide(open: &[(&String, &Value)], closed: &[(&String, &Value)]) -> Match {
    let mut found: Vec<(String, String)> = Vec::new();
    for (list, (txid, entry)) in open
        .iter()
        .map(|c| ("open", c))
        .chain(closed.iter().map(|c| ("closed", c)))
    {
        let state = entry.get("status").and_then(Value::as_str).unwrap_or(list);
        match found.iter_mut().find(|(t, _)| t == *txid) {
            Some(seen) => seen.1 = state.to_owned(),
            None => found.push(((*txid).clone(), state.to_owned())),
        }
    }
    match found.len() {
        0 => Match::Absent,
        1 => {
            let (txid, state) = found.remove(0);
            Match::One { txid, state }
        }
        _ => Match::Several {
            txids: found.into_iter().map(|(txid, _)| txid).collect(),
        },
    }
}

/// Whether a Kraken order entry can be `order` (see the module doc).
pub fn is_our_order(
    entry: &Value,
    order: &OrderRequest,
    filter: OrderFilter,
    offset: TimeDelta,
) -> bool {
    let field = |name: &str| entry.get(name);
    let descr = |name: &str| {
        entry
            .get("descr")
            .and_then(|d| d.get(name))
            .and_then(Value::as_str)
    };
    match filter {
        OrderFilter::ClOrdId(id) => field("cl_ord_id")
            .and_then(Value::as_str)
            .is_some_and(|c| c.eq_ignore_ascii_case(&id.to_string())),
        OrderFilter::Userref(n) => {
            let userref =
                field("userref").and_then(|u| u.as_i64().or_else(|| u.as_str()?.parse().ok()));
            let pair_ok = descr("pair").is_none_or(|p| same_pair(p, &order.pair));
            let side_ok = descr("type").is_none_or(|t| t == order.side.as_str());
            let type_ok = descr("ordertype").is_none_or(|t| t == order.order_type.as_str());
            let sent_volume = order
                .volume
                .round_dp_with_strategy(order.pair.lot_decimals, RoundingStrategy::ToZero);
            let volume_ok = field("vol")
                .and_then(decimal)
                .is_none_or(|v| v == sent_volume);
            let opened_ok = field("opentm")
                .and_then(Value::as_f64)
                .is_none_or(|at| opened_in_time(at, order, offset));
            userref == Some(i64::from(n)) && pair_ok && side_ok && type_ok && volume_ok && opened_ok
        }
        OrderFilter::All => false,
    }
}

/// Tolerance for the clock offset's error when judging `opentm` (generous: an
/// unmeasured offset counts as zero).
const CLOCK_SKEW_SECS: f64 = 60.0;
/// Kraken's largest `deadline` offset: no order is sent longer before its deadline.
const MAX_DEADLINE_SECS: f64 = 60.0;

/// Our deadline on Kraken's clock, in unix seconds.
fn kraken_deadline_secs(order: &OrderRequest, offset: TimeDelta) -> f64 {
    let deadline = order
        .deadline
        .checked_add_signed(offset)
        .unwrap_or(order.deadline);
    deadline.timestamp_millis() as f64 / 1000.0
}

/// Whether an order opened at `opentm` (Kraken's unix seconds) can be `order`: it was
/// sent at most a minute before its deadline and accepted before it.
fn opened_in_time(opentm: f64, order: &OrderRequest, offset: TimeDelta) -> bool {
    let deadline = kraken_deadline_secs(order, offset);
    let earliest = deadline - MAX_DEADLINE_SECS - CLOCK_SKEW_SECS;
    let latest = deadline + CLOCK_SKEW_SECS;
    (earliest..=latest).contains(&opentm)
}

/// The latest `start` (unix seconds, exclusive) of a `ClosedOrders` scan by opening
/// time that still includes every order that can be `order`.
pub fn scan_start(order: &OrderRequest, offset: TimeDelta) -> i64 {
    let earliest = kraken_deadline_secs(order, offset) - MAX_DEADLINE_SECS - CLOCK_SKEW_SECS;
    earliest.floor() as i64 - 1
}

/// A decimal Kraken sent as a string (`"1.25000000"`) or a number.
fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.to_string().parse().ok(),
        _ => None,
    }
}

fn same_pair(name: &str, pair: &PairInfo) -> bool {
    let name = name.replace('/', "");
    [&pair.altname, &pair.id]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(&name))
        || pair
            .wsname
            .as_ref()
            .is_some_and(|ws| ws.replace('/', "").eq_ignore_ascii_case(&name))
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
