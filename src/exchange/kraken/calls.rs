//! The private calls that place nothing: `OpenOrders`, `ClosedOrders`, `QueryOrders`,
//! `CancelOrder`, `Balance`, `BalanceEx`.
//!
//! Each is charged to the client-side rate model before it is sent, and no wait for
//! the model is unbounded: a call that would have to wait longer than its bound is
//! not sent and fails with a clear [`KrakenError::NotSent`]. `Balance` sits in a new
//! signal's path (the risk check reads it), so its bound is short
//! ([`BALANCE_MAX_WAIT`]), and so is `BalanceEx`'s (percent sizing reads it); the risk engine then refuses fail-closed. Order lookups
//! do not come through here one by one: [`super::batch`] charges and sends them.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use super::client::{into_result, KrakenError, DEFAULT_TIMEOUT};
use super::errors::is_rate_limit;
use super::order_form::Field;
use super::private::{KrakenPrivate, Limit, Sent};
use super::rate_limit::{Counter, CANCEL_COST};

/// The longest a `Balance` read waits for the rate model before failing.
pub const BALANCE_MAX_WAIT: Duration = Duration::from_secs(2);
/// The longest the other calls here wait for the rate model.
pub const QUERY_MAX_WAIT: Duration = Duration::from_secs(10);

/// Which orders an `OpenOrders`/`ClosedOrders` call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFilter {
    /// All of them (Kraken pages closed orders by 50).
    All,
    ClOrdId(Uuid),
    Userref(i32),
}

impl OrderFilter {
    /// The form fields of this filter.
    pub fn fields(self) -> Vec<Field> {
        match self {
            OrderFilter::All => Vec::new(),
            OrderFilter::ClOrdId(id) => vec![("cl_ord_id", id.to_string())],
            OrderFilter::Userref(n) => vec![("userref", n.to_string())],
        }
    }
}

/// The fields of one `ClosedOrders` page: orders *opened* after `start` (unix
/// seconds, exclusive; `closetime=open`), newest first, from offset `ofs`.
pub fn closed_page_fields(start: i64, ofs: usize) -> Vec<Field> {
    vec![
        ("start", start.to_string()),
        ("closetime", "open".to_owned()),
        ("ofs", ofs.to_string()),
    ]
}

impl KrakenPrivate {
    /// Charges `cost` to `counter`, waiting at most `max_wait`, then sends.
    pub(super) async fn call(
        &self,
        method: &str,
        fields: &[Field],
        counter: Counter,
        cost: f64,
        max_wait: Duration,
    ) -> Result<Value, KrakenError> {
        let give_up_at = Instant::now() + max_wait;
        if let Err(wait) = self
            .limiter()
            .acquire(&counter, cost, Some(give_up_at))
            .await
        {
            return Err(KrakenError::NotSent(format!(
                "client-side rate limit: {method} would wait {:.1} s for Kraken's call \
                 counter (at most {} s allowed)",
                wait.as_secs_f64(),
                max_wait.as_secs()
            )));
        }
        let (_, result) = self
            .call_charged(method, fields, &counter, DEFAULT_TIMEOUT)
            .await;
        result
    }

    /// Sends a call whose cost the caller has already charged to `counter`, and
    /// extracts its result; Kraken saying "rate limit" fills the model's counter.
    pub(super) async fn call_charged(
        &self,
        method: &str,
        fields: &[Field],
        counter: &Counter,
        timeout: Duration,
    ) -> (Sent, Result<Value, KrakenError>) {
        let sent = self.send(method, fields, Limit::Timeout(timeout)).await;
        let result = into_result(sent.reply.clone());
        if let Err(KrakenError::Api(errors)) = &result {
            if errors.iter().any(|e| is_rate_limit(e)) {
                self.limiter().saturate(counter);
            }
        }
        (sent, result)
    }

    /// `OpenOrders`: the `open` map of txid → order.
    pub async fn open_orders(&self, filter: OrderFilter) -> Result<Value, KrakenError> {
        let fields = filter.fields();
        self.call("OpenOrders", &fields, Counter::Private, 1.0, QUERY_MAX_WAIT)
            .await
    }

    /// `ClosedOrders`: the `closed` map of txid → order (the latest 50 without filter).
    pub async fn closed_orders(&self, filter: OrderFilter) -> Result<Value, KrakenError> {
        let fields = filter.fields();
        self.call(
            "ClosedOrders",
            &fields,
            Counter::Private,
            1.0,
            QUERY_MAX_WAIT,
        )
        .await
    }

    /// `QueryOrders` for up to 50 txids: txid → order.
    pub async fn query_orders(&self, txids: &[String]) -> Result<Value, KrakenError> {
        let fields = [("txid", txids.join(","))];
        self.call(
            "QueryOrders",
            &fields,
            Counter::Private,
            1.0,
            QUERY_MAX_WAIT,
        )
        .await
    }

    /// `CancelOrder` by txid or cl_ord_id. Charged to `pair`'s trading counter at
    /// Kraken's largest cancel penalty.
    pub async fn cancel_order(&self, id: &str, pair: &str) -> Result<Value, KrakenError> {
        let fields = [("txid", id.to_owned())];
        let counter = Counter::Trading(pair.to_owned());
        self.call("CancelOrder", &fields, counter, CANCEL_COST, QUERY_MAX_WAIT)
            .await
    }

    /// `CancelOrder` by `key` (`txid` or `cl_ord_id`) = `id`, charged to `pair`'s
    /// trading counter at Kraken's largest cancel penalty (8, a cancel within 5 s of
    /// placing). The answer's raw body is kept for the audit trail.
    pub async fn cancel_by(
        &self,
        key: &'static str,
        id: &str,
        pair: &str,
    ) -> Result<Value, KrakenError> {
        let fields = [(key, id.to_owned())];
        let counter = Counter::Trading(pair.to_owned());
        self.call("CancelOrder", &fields, counter, CANCEL_COST, QUERY_MAX_WAIT)
            .await
    }

    /// `GetWebSocketsToken`: a token for one WebSocket connection (Kraken: valid
    /// for 15 minutes to connect; a connection keeps it for its life).
    pub async fn websockets_token(&self) -> Result<String, KrakenError> {
        let result = self
            .call(
                "GetWebSocketsToken",
                &[],
                Counter::Private,
                1.0,
                QUERY_MAX_WAIT,
            )
            .await?;
        result["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| KrakenError::Parse("GetWebSocketsToken has no token".into()))
    }

    /// `Balance`: amount by Kraken asset id (`XXBT`, `ZUSD`). Fails at once, unsent,
    /// if the rate model would make it wait more than [`BALANCE_MAX_WAIT`].
    pub async fn balance(&self) -> Result<HashMap<String, Decimal>, KrakenError> {
        let result = self
            .call("Balance", &[], Counter::Private, 1.0, BALANCE_MAX_WAIT)
            .await;
        let Value::Object(map) = result? else {
            return Err(KrakenError::Parse("Balance result is not an object".into()));
        };
        map.into_iter()
            .map(|(asset, amount)| {
                let text = match &amount {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let amount = Decimal::from_str(&text)
                    .map_err(|e| KrakenError::Parse(format!("Balance of {asset}: {e}")))?;
                Ok((asset, amount))
            })
            .collect()
    }

    /// `BalanceEx`: the balance available for trading by Kraken asset id, as Kraken
    /// documents it: `balance + credit - credit_used - hold_trade` (absent fields are
    /// zero). Costs 1 on the private counter, like `Balance`, with the same short
    /// bound ([`BALANCE_MAX_WAIT`]).
    pub async fn balance_ex(&self) -> Result<HashMap<String, Decimal>, KrakenError> {
        let result = self
            .call("BalanceEx", &[], Counter::Private, 1.0, BALANCE_MAX_WAIT)
            .await;
        let Value::Object(map) = result? else {
            return Err(KrakenError::Parse(
                "BalanceEx result is not an object".into(),
            ));
        };
        map.into_iter()
            .map(|(asset, entry)| {
                let available = available_of(&asset, &entry)?;
                Ok((asset, available))
            })
            .collect()
    }
}

/// One `BalanceEx` entry's field as a decimal (a string or a number; absent: zero).
fn decimal_field(asset: &str, entry: &Value, name: &str) -> Result<Decimal, KrakenError> {
    let text = match entry.get(name) {
        None | Some(Value::Null) => return Ok(Decimal::ZERO),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Decimal::from_str(&text)
        .map_err(|e| KrakenError::Parse(format!("BalanceEx {name} of {asset}: {e}")))
}

/// The available balance of one `BalanceEx` entry; `balance` is required.
fn available_of(asset: &str, entry: &Value) -> Result<Decimal, KrakenError> {
    if entry.get("balance").is_none() {
        return Err(KrakenError::Parse(format!(
            "BalanceEx entry of {asset} has no balance"
        )));
    }
    let field = |name| decimal_field(asset, entry, name);
    let (balance, credit) = (field("balance")?, field("credit")?);
    let (credit_used, hold_trade) = (field("credit_used")?, field("hold_trade")?);
    balance
        .checked_add(credit)
        .and_then(|x| x.checked_sub(credit_used))
        .and_then(|x| x.checked_sub(hold_trade))
        .ok_or_else(|| KrakenError::Parse(format!("BalanceEx of {asset} overflows")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_available_balance_is_balance_plus_credit_less_credit_used_and_holds() {
        let entry = json!({"balance": "100", "credit": "10", "credit_used": "4",
                           "hold_trade": "30.5"});
        assert_eq!(available_of("ZUSD", &entry).unwrap(), Decimal::new(755, 1));
        let numbers = json!({"balance": 1.2435, "hold_trade": 0.8423});
        assert_eq!(
            available_of("XXBT", &numbers).unwrap(),
            Decimal::new(4012, 4)
        );
    }

    #[test]
    fn a_balance_ex_entry_without_a_balance_or_with_a_bad_number_is_a_parse_error() {
        let missing = available_of("ZUSD", &json!({"hold_trade": "1"})).unwrap_err();
        assert!(missing.to_string().contains("ZUSD"), "{missing}");
        let bad = available_of("ZUSD", &json!({"balance": "1", "hold_trade": "x"}));
        assert!(bad.unwrap_err().to_string().contains("hold_trade"));
    }
}
