//! One lookup round of [`super::batch`]: `OpenOrders` once, then (if needed) one
//! `ClosedOrders` scan by opening time, and an answer for every queued order.
//!
//! The closed scan starts at the earliest moment any queued order could have been
//! opened on Kraken's clock ([`lookup::scan_start`]) and pages by 50 with `ofs` up to
//! [`MAX_CLOSED_PAGES`]. Only a complete scan can say "not found": if the account
//! closed more orders than that in the window, the orders still unsettled are looked
//! up one by one with Kraken's own filter (at most [`MAX_FALLBACKS`] a round; the
//! rest fail for this round and are asked again).
//!
//! An order keyed by `userref` is checked against both lists even when it is open,
//! so that a second candidate in the closed list is seen ([`lookup::Match::Several`]).
//!
//! The audit record of each lookup holds the requests (nonce included) and, instead
//! of whole lists of other orders, how many entries each list had and the entries
//! that were candidates for this order.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use serde_json::{json, Map, Value};

use super::batch::{failed, Pending, LOOKUP_RESERVE, LOOKUP_TIMEOUT};
use super::calls::{closed_page_fields, OrderFilter};
use super::lookup::{self, Match};
use super::private::KrakenPrivate;
use super::rate_limit::Counter;
use crate::exchange::{Lookup, LookupOutcome};

/// Kraken's page size for `ClosedOrders`.
const PAGE: usize = 50;
/// Pages of one closed scan (200 orders closed in the window).
pub const MAX_CLOSED_PAGES: usize = 4;
/// Filtered single-order lookups a round may fall back to.
pub const MAX_FALLBACKS: usize = 5;
/// The longest a fallback waits for room on the rate counter.
const FALLBACK_MAX_WAIT: Duration = Duration::from_secs(10);

/// What the closed scan read.
struct ClosedScan {
    orders: Map<String, Value>,
    requests: Vec<Value>,
    complete: bool,
}

/// Serves one round. The unit for `OpenOrders` has been charged by the caller.
pub(super) async fn serve(private: &KrakenPrivate, offset: TimeDelta, batch: Vec<Pending>) {
    let counter = Counter::Private;
    let (sent, result) = private
        .call_charged("OpenOrders", &[], &counter, LOOKUP_TIMEOUT)
        .await;
    let open_request = json!({ "OpenOrders": sent.request });
    let open = match result
        .map_err(|e| e.to_string())
        .and_then(|r| list(r, "open"))
    {
        Ok(open) => open,
        Err(reason) => {
            for pending in batch {
                pending.answer(failed(open_request.clone(), reason.clone()));
            }
            return;
        }
    };
    let needs_closed = |p: &Pending| {
        matches!(p.filter, OrderFilter::Userref(_))
            || lookup::candidates(&open, &p.order, p.filter, offset).is_empty()
    };
    let start = batch
        .iter()
        .filter(|p| needs_closed(p))
        .map(|p| lookup::scan_start(&p.order, offset))
        .min();
    let scan = match start {
        Some(start) => Some(scan_closed(private, start).await),
        None => None,
    };
    let mut fallbacks = MAX_FALLBACKS;
    for pending in batch {
        let mut request = open_request.clone();
        let ours = lookup::candidates(&open, &pending.order, pending.filter, offset);
        let mut response = json!({ "OpenOrders": excerpt(&open, &ours) });
        let closed: Option<Result<Cow<'_, Map<String, Value>>, String>> = match &scan {
            _ if !needs_closed(&pending) => None,
            // Cannot happen (an order that needs it started the scan); safe anyway.
            None => Some(Err("no closed-orders scan was made".into())),
            Some(Err((requests, reason))) => {
                request["ClosedOrders"] = Value::from(requests.clone());
                Some(Err(reason.clone()))
            }
            Some(Ok(scan)) => {
                request["ClosedOrders"] = Value::from(scan.requests.clone());
                Some(if scan.complete {
                    Ok(Cow::Borrowed(&scan.orders))
                } else if fallbacks > 0 {
                    fallbacks -= 1;
                    fallback(private, &pending, &mut request)
                        .await
                        .map(Cow::Owned)
                } else {
                    Err("too many closed orders to scan this round; will look again".into())
                })
            }
        };
        let outcome = match closed {
            None => outcome_of(lookup::decide(&ours, &[])),
            Some(Ok(closed)) => {
                let theirs = lookup::candidates(&closed, &pending.order, pending.filter, offset);
                response["ClosedOrders"] = excerpt(&closed, &theirs);
                outcome_of(lookup::decide(&ours, &theirs))
            }
            Some(Err(reason)) => LookupOutcome::Failed { reason },
        };
        pending.answer(Lookup {
            request,
            response: Some(response.to_string()),
            outcome,
        });
    }
}

/// Reads closed orders opened after `start`, newest first, page by page.
async fn scan_closed(
    private: &KrakenPrivate,
    start: i64,
) -> Result<ClosedScan, (Vec<Value>, String)> {
    let mut scan = ClosedScan {
        orders: Map::new(),
        requests: Vec::new(),
        complete: false,
    };
    let mut received = 0usize;
    for _ in 0..MAX_CLOSED_PAGES {
        let _ = private
            .limiter()
            .acquire_leaving(&Counter::Private, 1.0, LOOKUP_RESERVE, None)
            .await;
        let fields = closed_page_fields(start, received);
        let (sent, result) = private
            .call_charged("ClosedOrders", &fields, &Counter::Private, LOOKUP_TIMEOUT)
            .await;
        scan.requests.push(sent.request);
        let result = match result {
            Ok(result) => result,
            Err(err) => return Err((scan.requests, err.to_string())),
        };
        let count = result.get("count").and_then(Value::as_u64);
        let page = match list(result, "closed") {
            Ok(page) => page,
            Err(reason) => return Err((scan.requests, reason)),
        };
        received += page.len();
        let last = page.len() < PAGE || count.is_some_and(|c| received as u64 >= c);
        scan.orders.extend(page);
        if last {
            scan.complete = true;
            break;
        }
    }
    Ok(scan)
}

/// The closed orders Kraken's own filter returns for one order.
async fn fallback(
    private: &KrakenPrivate,
    pending: &Pending,
    request: &mut Value,
) -> Result<Map<String, Value>, String> {
    let give_up_at = Instant::now() + FALLBACK_MAX_WAIT;
    let room = private
        .limiter()
        .acquire_leaving(&Counter::Private, 1.0, LOOKUP_RESERVE, Some(give_up_at))
        .await;
    if room.is_err() {
        return Err("no room on Kraken's call counter for a filtered lookup".into());
    }
    let fields = pending.filter.fields();
    let (sent, result) = private
        .call_charged("ClosedOrders", &fields, &Counter::Private, LOOKUP_TIMEOUT)
        .await;
    request["fallback"] = sent.request;
    result
        .map_err(|e| e.to_string())
        .and_then(|r| list(r, "closed"))
}

/// The `key` map of a result. A missing map is an error, not an empty list: taking
/// it as empty could turn a malformed answer into "not found".
fn list(mut result: Value, key: &str) -> Result<Map<String, Value>, String> {
    match result.get_mut(key).map(Value::take) {
        Some(Value::Object(map)) => Ok(map),
        _ => Err(format!("Kraken's answer has no `{key}` map")),
    }
}

/// A list for the audit record: its size and this order's candidates.
fn excerpt(list: &Map<String, Value>, candidates: &[(&String, &Value)]) -> Value {
    let candidates: Map<String, Value> = candidates
        .iter()
        .map(|(txid, entry)| ((*txid).clone(), (*entry).clone()))
        .collect();
    json!({"orders": list.len(), "candidates": candidates})
}

fn outcome_of(found: Match) -> LookupOutcome {
    match found {
        Match::Absent => LookupOutcome::NotFound,
        Match::One { txid, state } => LookupOutcome::Found { txid, state },
        Match::Several { txids } => LookupOutcome::Failed {
            reason: Match::ambiguity(&txids),
        },
    }
}
