//! Leverage: margin trading is refused unless the operator sets `allow_leverage`.

use super::Input;
use crate::risk::Reason;

/// This rule's name in refusals.
pub const RULE: &str = "leverage";

/// Refuses a signal that asks for leverage while it is not allowed.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    if let Some(leverage) = &input.signal.leverage {
        if !input.config.allow_leverage {
            out.push(Reason::new(
                RULE,
                format!("leverage {leverage} asked, but risk.allow_leverage is false"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, signal, Case};
    use serde_json::json;

    #[test]
    fn leverage_needs_the_operator_s_consent() {
        let cases: &[Case] = &[
            ("no leverage", |_| {}, false),
            (
                "leverage by default",
                |s| s.signal = signal(json!({"leverage": "2"})),
                true,
            ),
            (
                "leverage when allowed",
                |s| {
                    s.config.allow_leverage = true;
                    s.signal = signal(json!({"leverage": "2:1"}));
                },
                false,
            ),
        ];
        assert_cases(RULE, check, cases);
    }
}
