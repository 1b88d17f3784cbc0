//! Test scaffolding for the rules: a [`Scenario`] with sensible defaults (an XBTUSD
//! buy of 0.01 at a ticker of 50 000, nothing configured but the allowed pairs) that
//! each test changes in one place.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use super::resolve::resolve;
use super::rules::{Input, Rule};
use super::view::{BalanceQuote, MarketView, PriceQuote, RiskState};
use super::{evaluate, ApprovedOrder, Reason, Verdict};
use crate::config::{AuthKind, RiskConfig, SourceConfig};
use crate::pairs::PairTable;
use crate::signal::{parse_signal, Signal};

/// A decimal from text.
pub fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// The fixed "now" of every scenario: 2024-05-01 12:00:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

/// A signal: the default XBTUSD market buy of 0.01 with `changes` merged in (a JSON
/// `null` removes a field).
pub fn signal(changes: serde_json::Value) -> Signal {
    let mut body = serde_json::json!({
        "pair": "XBTUSD", "side": "buy", "order_type": "market", "volume": "0.01"
    });
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            body.as_object_mut().unwrap().remove(key);
        } else {
            body[key] = value.clone();
        }
    }
    parse_signal(body.to_string().as_bytes()).unwrap().0
}

/// The market for `pair` from the snapshot, at `price`, with a zero balance.
pub fn market(pair: &str, price: &str) -> MarketView {
    let table = PairTable::snapshot();
    let info = table.get(pair).cloned();
    let same_base_pairs = match &info {
        Some(info) => table
            .iter()
            .filter(|p| p.base == info.base)
            .map(|p| p.altname.clone())
            .collect(),
        None => Vec::new(),
    };
    MarketView {
        pair: info,
        same_base_pairs,
        price: Some(PriceQuote {
            price: dec(price),
            at: now(),
        }),
        price_error: None,
        balance: Some(BalanceQuote {
            amount: Decimal::ZERO,
            at: now(),
        }),
        balance_error: None,
    }
}

/// One judgement's inputs.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub config: RiskConfig,
    pub source: SourceConfig,
    pub signal: Signal,
    pub market: MarketView,
    pub state: RiskState,
    pub now: DateTime<Utc>,
}

impl Scenario {
    /// The default scenario.
    pub fn new() -> Self {
        Scenario {
            config: RiskConfig {
                allowed_pairs: vec!["XBTUSD".into(), "ETHUSD".into()],
                ..RiskConfig::default()
            },
            source: SourceConfig {
                name: "test".into(),
                auth: AuthKind::Hmac,
                secret: None,
                secret_file: None,
                allowed_ips: Vec::new(),
                allowed_pairs: None,
                allowed_order_types: None,
                max_orders_per_minute: None,
                require_client_cert: None,
                format: Default::default(),
                max_signals_per_minute: None,
            },
            signal: signal(serde_json::json!({})),
            market: market("XBTUSD", "50000"),
            state: RiskState::default(),
            now: now(),
        }
    }
}

impl Scenario {
    /// The reasons one rule alone gives.
    pub fn check(&self, rule: Rule) -> Vec<Reason> {
        let mut ignored = Vec::new();
        let order = resolve(
            &self.config,
            &self.signal,
            &self.market,
            self.now,
            &mut ignored,
        );
        let input = Input {
            config: &self.config,
            source: &self.source,
            signal: &self.signal,
            market: &self.market,
            state: &self.state,
            now: self.now,
            order: &order,
        };
        let mut reasons = Vec::new();
        rule(&input, &mut reasons);
        reasons
    }

    /// The whole engine's verdict.
    pub fn evaluate(&self) -> Verdict {
        evaluate(
            &self.config,
            &self.source,
            &self.signal,
            &self.market,
            &self.state,
            self.now,
        )
    }

    /// The order the whole engine approves; panics with the verdict if it refuses.
    pub fn approved(&self) -> ApprovedOrder {
        match self.evaluate() {
            Verdict::Approved(order) => order,
            refused => panic!("{refused:?}"),
        }
    }

    /// The names of the rules the whole engine refuses with, in the order given.
    pub fn refusing_rules(&self) -> Vec<String> {
        self.evaluate()
            .reasons()
            .iter()
            .map(|r| r.rule.clone())
            .collect()
    }
}

/// A table-driven test case: a description, a change to the default scenario, and
/// whether the rule must refuse it.
pub type Case = (&'static str, fn(&mut Scenario), bool);

/// Runs every case against `rule`: a refused case must give only reasons naming
/// `name`, a passing case none.
pub fn assert_cases(name: &str, rule: Rule, cases: &[Case]) {
    for (description, change, refused) in cases {
        let mut scenario = Scenario::new();
        change(&mut scenario);
        let reasons = scenario.check(rule);
        if *refused {
            assert!(!reasons.is_empty(), "{description}: expected a refusal");
            for reason in &reasons {
                assert_eq!(reason.rule, name, "{description}: {reason:?}");
                assert!(!reason.detail.is_empty(), "{description}");
            }
        } else {
            assert!(reasons.is_empty(), "{description}: {reasons:?}");
        }
    }
}
