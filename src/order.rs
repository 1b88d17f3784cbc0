//! Order statuses and the one function that decides which status changes are legal.
//!
//! Every status change in the service goes through [`transition`]; an illegal one is a
//! bug, refused and logged by the caller, never silently applied.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an order stands (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Refused by a risk rule; never sent.
    Rejected,
    /// Recorded; not yet confirmed by the exchange (possibly being sent).
    Pending,
    /// Sent, but the outcome is ambiguous; reconciliation will settle it.
    Unknown,
    /// The exchange returned a txid.
    Placed,
    /// Validate mode: the exchange accepted the order without placing it.
    Validated,
    /// The exchange definitively refused it; its error is kept.
    Failed,
    /// Never reached the exchange and its deadline has passed.
    Expired,
    /// Part of the volume traded; the rest is still open on the exchange.
    #[serde(rename = "partially_filled")]
    PartiallyFilled,
    /// The whole volume traded.
    Filled,
    /// Cancelled by the exchange, a user, or as an IOC/GTD remainder (the event says
    /// which); what traded before stays in `filled_volume`.
    Canceled,
}

impl OrderStatus {
    /// Every status, for documentation and filters.
    pub const ALL: [OrderStatus; 10] = [
        OrderStatus::Rejected,
        OrderStatus::Pending,
        OrderStatus::Unknown,
        OrderStatus::Placed,
        OrderStatus::Validated,
        OrderStatus::Failed,
        OrderStatus::Expired,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Canceled,
    ];

    /// The lower-case name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Rejected => "rejected",
            OrderStatus::Pending => "pending",
            OrderStatus::Unknown => "unknown",
            OrderStatus::Placed => "placed",
            OrderStatus::Validated => "validated",
            OrderStatus::Failed => "failed",
            OrderStatus::Expired => "expired",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
        }
    }

    /// Settled as far as sending goes: the exchange's answer is known, so the executor
    /// is done with it. Fills and cancels may still move a `placed` or
    /// `partially_filled` order on (see [`OrderStatus::is_terminal`]).
    pub fn is_final(self) -> bool {
        !matches!(self, OrderStatus::Pending | OrderStatus::Unknown)
    }

    /// On the exchange's book: it may still fill or be cancelled.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Placed | OrderStatus::PartiallyFilled)
    }

    /// Nothing can ever change this order again.
    pub fn is_terminal(self) -> bool {
        self.is_final() && !self.is_open()
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown status `{s}`"))
    }
}

/// A status change that the life cycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal order status transition {from} -> {to}")]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// Checks that an order may move from `from` to `to`; returns the status it ends in.
///
/// `pending` may end in any status but `rejected` (risk is decided before the record
/// exists as pending) or become `unknown`; `unknown` can only be settled by what the
/// exchange says (`placed`, `validated`, `failed`, `expired`, or a fill or cancel seen
/// on the exchange) or go back to `pending` when the exchange proved the order never
/// arrived and it is resent. An order on the book (`placed`, `partially_filled`) moves
/// on by fills (`partially_filled`, `filled`) or a cancel (`canceled`). Staying in the
/// same status is allowed for orders that may still change (an attempt or a further
/// partial fill is still an audit event).
///
/// A fill can be seen before the answer to the send that placed the order (the
/// executions feed is faster than the REST reply): `placed` arriving for an order that
/// already filled, partly filled or was cancelled keeps the status it has, so the
/// answer returned is `from`, not `to`. Every other change from `filled`, `canceled`,
/// `rejected`, `validated`, `failed` or `expired` is illegal.
pub fn transition(from: OrderStatus, to: OrderStatus) -> Result<OrderStatus, IllegalTransition> {
    use OrderStatus::*;
    let legal = matches!(
        (from, to),
        (
            Pending | Unknown,
            Pending
                | Unknown
                | Placed
                | Validated
                | Failed
                | Expired
                | PartiallyFilled
                | Filled
                | Canceled
        ) | (
            Placed | PartiallyFilled,
            PartiallyFilled | Filled | Canceled
        )
    );
    if legal {
        Ok(to)
    } else if to == Placed && matches!(from, PartiallyFilled | Filled | Canceled) {
        Ok(from)
    } else {
        Err(IllegalTransition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn terminal_statuses_never_change() {
        for from in [Rejected, Validated, Failed, Expired] {
            for to in OrderStatus::ALL {
                assert!(transition(from, to).is_err(), "{from} -> {to}");
            }
        }
        for from in [Filled, Canceled] {
            for to in OrderStatus::ALL.into_iter().filter(|to| *to != Placed) {
                assert!(transition(from, to).is_err(), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn a_placed_order_moves_on_only_by_fills_or_a_cancel() {
        for to in [PartiallyFilled, Filled, Canceled] {
            assert_eq!(transition(Placed, to), Ok(to));
            assert_eq!(transition(PartiallyFilled, to), Ok(to));
        }
        for to in [
            Pending, Unknown, Placed, Validated, Failed, Expired, Rejected,
        ] {
            assert!(transition(Placed, to).is_err(), "placed -> {to}");
        }
    }

    #[test]
    fn placed_arriving_after_a_fill_keeps_the_fill() {
        assert_eq!(transition(Filled, Placed), Ok(Filled));
        assert_eq!(transition(PartiallyFilled, Placed), Ok(PartiallyFilled));
        assert_eq!(transition(Canceled, Placed), Ok(Canceled));
    }

    #[test]
    fn a_fill_can_settle_an_order_whose_send_is_unanswered() {
        for to in [PartiallyFilled, Filled, Canceled] {
            assert_eq!(transition(Pending, to), Ok(to));
            assert_eq!(transition(Unknown, to), Ok(to));
        }
    }

    #[test]
    fn only_filled_canceled_and_refusals_are_terminal() {
        let terminal: Vec<_> = OrderStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            vec![Rejected, Validated, Failed, Expired, Filled, Canceled]
        );
    }

    #[test]
    fn pending_can_reach_every_exchange_outcome() {
        for to in [Unknown, Placed, Validated, Failed, Expired] {
            assert_eq!(transition(Pending, to), Ok(to));
        }
    }

    #[test]
    fn nothing_becomes_rejected_after_being_recorded() {
        assert!(transition(Pending, Rejected).is_err());
        assert!(transition(Unknown, Rejected).is_err());
    }

    #[test]
    fn unknown_is_settled_by_the_exchange() {
        for to in [Placed, Failed, Expired, Validated] {
            assert_eq!(transition(Unknown, to), Ok(to));
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
        }
        assert!("bogus".parse::<OrderStatus>().is_err());
    }
}
