//! A scripted venue for liveness tests: each `AddOrder` answer and the lookup answer
//! are chosen by the test, and every call is counted. It implements the service's
//! `Exchange` trait, so the real executor, writer and HTTP API run on top of it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::json;
use tradehook::exchange::{
    Attempt, AttemptOutcome, Exchange, ExchangeError, Lookup, LookupOutcome, OrderRequest,
};
use tradehook::pairs::{PairInfo, PairTable};

/// A venue that answers as scripted.
pub struct Scripted {
    /// Answers to the next `AddOrder` calls, in order; `Placed` once used up.
    attempts: Mutex<VecDeque<(AttemptOutcome, Option<String>)>>,
    /// The answer to every lookup.
    lookup: Mutex<LookupOutcome>,
    add_order_calls: AtomicUsize,
    lookups: AtomicUsize,
}

impl Scripted {
    /// Places every order, finds nothing.
    pub fn new() -> Self {
        Scripted {
            attempts: Mutex::new(VecDeque::new()),
            lookup: Mutex::new(LookupOutcome::NotFound),
            add_order_calls: AtomicUsize::new(0),
            lookups: AtomicUsize::new(0),
        }
    }

    /// Answers the next `AddOrder` with `outcome` and the raw `response` (`None`: no
    /// answer came from the exchange).
    pub fn then(&self, outcome: AttemptOutcome, response: Option<&str>) -> &Self {
        let mut attempts = self.attempts.lock().unwrap();
        attempts.push_back((outcome, response.map(str::to_owned)));
        self
    }

    /// Answers every lookup with `outcome`.
    pub fn lookups_answer(&self, outcome: LookupOutcome) {
        *self.lookup.lock().unwrap() = outcome;
    }

    /// How many `AddOrder` calls were made.
    pub fn add_order_calls(&self) -> usize {
        self.add_order_calls.load(Ordering::SeqCst)
    }

    /// How many lookups were made.
    pub fn lookup_calls(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Exchange for Scripted {
    async fn add_order(&self, order: &OrderRequest) -> Attempt {
        let n = self.add_order_calls.fetch_add(1, Ordering::SeqCst) + 1;
        let next = self.attempts.lock().unwrap().pop_front();
        let (outcome, response) = next.unwrap_or_else(|| {
            let txid = format!("OSCRPT-{n:05}-ABCDEF");
            (
                AttemptOutcome::Placed { txid: txid.clone() },
                Some(json!({"error": [], "result": {"txid": [txid]}}).to_string()),
            )
        });
        Attempt {
            request: json!({"cl_ord_id": order.client_order_id}),
            response,
            elapsed: Duration::from_millis(1),
            outcome,
        }
    }

    async fn find_order(&self, order: &OrderRequest) -> Lookup {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        Lookup {
            request: json!({"cl_ord_id": order.client_order_id}),
            response: None,
            outcome: self.lookup.lock().unwrap().clone(),
        }
    }

    async fn last_price(&self, _pair: &PairInfo) -> Result<Decimal, ExchangeError> {
        Ok(Decimal::new(50_000, 0))
    }

    async fn balances(&self) -> Result<HashMap<String, Decimal>, ExchangeError> {
        Ok(HashMap::new())
    }

    async fn asset_pairs(&self) -> Result<PairTable, ExchangeError> {
        Ok(PairTable::snapshot())
    }
}
