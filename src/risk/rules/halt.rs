//! Kill switch: while trading is halted (by `POST /v1/admin/halt` or the circuit
//! breaker), every signal is refused. The state lives in the database, so it survives
//! restarts.

use super::Input;
use crate::risk::Reason;

/// This rule's name in refusals.
pub const RULE: &str = "halt";

/// Refuses every signal while halted.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    if let Some(halt) = &input.state.halt {
        out.push(Reason::new(
            RULE,
            format!(
                "trading is halted since {} ({}); POST /v1/admin/resume to resume",
                halt.since.to_rfc3339(),
                halt.reason
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, now, Case};
    use crate::risk::view::Halt;

    #[test]
    fn a_halt_refuses_and_its_absence_does_not() {
        let cases: &[Case] = &[
            ("not halted", |_| {}, false),
            (
                "halted by an admin",
                |s| {
                    s.state.halt = Some(Halt {
                        reason: "admin: maintenance".into(),
                        since: now(),
                    })
                },
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }
}
