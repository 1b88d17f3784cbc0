//! Allowed order types: `risk.allowed_order_types` (default `market` and `limit`),
//! narrowed by the source's own list. A conditional close must be allowed too: a
//! stop-loss attached to a limit order is still a stop-loss.

use super::Input;
use crate::risk::Reason;
use crate::signal::OrderType;

/// This rule's name in refusals.
pub const RULE: &str = "order_type";

/// The types allowed when `risk.allowed_order_types` is not set.
pub const DEFAULT_ALLOWED: [OrderType; 2] = [OrderType::Market, OrderType::Limit];

/// Refuses an order (or close) type outside the global or the source's list.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let global = input
        .config
        .allowed_order_types
        .as_deref()
        .unwrap_or(&DEFAULT_ALLOWED);
    let source = input.source.allowed_order_types.as_deref();
    let signal = input.signal;
    let mut judge = |what: &str, kind: OrderType| {
        if !global.contains(&kind) {
            out.push(Reason::new(
                RULE,
                format!("{what} {kind} is not in risk.allowed_order_types"),
            ));
        }
        if source.is_some_and(|list| !list.contains(&kind)) {
            out.push(Reason::new(
                RULE,
                format!(
                    "{what} {kind} is not in the allowed_order_types of source {}",
                    input.source.name
                ),
            ));
        }
    };
    judge("order type", signal.order_type);
    if let Some(close) = &signal.close {
        judge("close order type", close.order_type);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, signal, Case};
    use serde_json::json;

    #[test]
    fn only_listed_order_types_pass() {
        let cases: &[Case] = &[
            ("market is allowed by default", |_| {}, false),
            (
                "limit is allowed by default",
                |s| s.signal = signal(json!({"order_type": "limit", "price": "50000"})),
                false,
            ),
            (
                "stop-loss is not allowed by default",
                |s| s.signal = signal(json!({"order_type": "stop-loss", "price": "40000"})),
                true,
            ),
            (
                "stop-loss once listed",
                |s| {
                    s.config.allowed_order_types = Some(vec![OrderType::StopLoss]);
                    s.signal = signal(json!({"order_type": "stop-loss", "price": "40000"}));
                },
                false,
            ),
            (
                "a source narrowing to limit refuses market",
                |s| s.source.allowed_order_types = Some(vec![OrderType::Limit]),
                true,
            ),
            (
                "a source cannot widen the global list",
                |s| {
                    s.source.allowed_order_types = Some(vec![OrderType::StopLoss]);
                    s.signal = signal(json!({"order_type": "stop-loss", "price": "40000"}));
                },
                true,
            ),
            (
                "a stop-loss close on an allowed limit order",
                |s| {
                    s.signal = signal(json!({"order_type": "limit", "price": "50000",
                        "close": {"order_type": "stop-loss", "price": "45000"}}))
                },
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }
}
