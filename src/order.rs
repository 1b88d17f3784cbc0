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
}

impl OrderStatus {
    /// Every status, for documentation and filters.
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Rejected,
        OrderStatus::Pending,
        OrderStatus::Unknown,
        OrderStatus::Placed,
        OrderStatus::Validated,
        OrderStatus::Failed,
        OrderStatus::Expired,
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
        }
    }

    /// A final status never changes again.
    pub fn is_final(self) -> bool {
        !matches!(self, OrderStatus::Pending | OrderStatus::Unknown)
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

/// Checks that an order may move from `from` to `to`.
///
/// `pending` may end in any status but `rejected` (risk is decided before the record
/// exists as pending) or become `unknown`; `unknown` can only be settled by what the
/// exchange says (`placed`, `validated`, `failed`, `expired`) or go back to `pending`
/// when the exchange proved the order never arrived and it is resent. Final statuses
/// never change. Staying in the same status is allowed for non-final orders (an
/// attempt that changed nothing is still an audit event).
pub fn transition(from: OrderStatus, to: OrderStatus) -> Result<OrderStatus, IllegalTransition> {
    use OrderStatus::*;
    let legal = matches!(
        (from, to),
        (
            Pending,
            Pending | Unknown | Placed | Validated | Failed | Expired
        ) | (
            Unknown,
            Unknown | Pending | Placed | Validated | Failed | Expired
        )
    );
    if legal {
        Ok(to)
    } else {
        Err(IllegalTransition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn final_statuses_never_change() {
        for from in [Rejected, Placed, Validated, Failed, Expired] {
            for to in OrderStatus::ALL {
                assert!(transition(from, to).is_err(), "{from} -> {to}");
            }
        }
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
