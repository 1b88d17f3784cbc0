//! A fake of Kraken's authenticated WebSocket v2 `executions` channel: a real
//! WebSocket server on port 0 (tokio-tungstenite) that checks the token handed out by
//! the fake's `GetWebSocketsToken`, answers `subscribe`, sends a snapshot of the last
//! 50 trades on every subscribe, streams scripted reports to subscribers, and can drop
//! its connections or refuse new ones for a while. Started with
//! [`FakeKrakenWs::start_with`], it also takes `add_order` into the REST fake's book
//! and acknowledges it, or (scripted, [`WsBehaviour`]) loses the acknowledgement or
//! drops the connection after accepting.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

use super::fake_kraken::{FakeKraken, Shared, WS_TOKEN};

/// Trades a snapshot repeats (Kraken: the last 50).
const SNAPSHOT_TRADES: usize = 50;

#[derive(Default)]
struct State {
    /// Every report sent (or held back while down), oldest first.
    history: Vec<Value>,
    /// Refuse new connections while set.
    down: bool,
    /// Successful subscriptions so far, with when.
    subscriptions: Vec<Instant>,
    /// Tokens refused.
    refused: usize,
    /// How the next `add_order` requests are answered.
    script: VecDeque<WsBehaviour>,
    /// `add_order` requests accepted.
    orders: usize,
}

/// How the fake answers one `add_order` it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsBehaviour {
    /// Accept the order and never acknowledge it (the ack is lost).
    AcceptThenSilence,
    /// Accept the order, then drop the connection without an answer.
    AcceptThenDrop,
}

/// What [`FakeKrakenWs::add_order`] does on the wire.
enum OrderAnswer {
    Reply(Value),
    Silence,
    Drop,
}

/// What live connections are told.
#[derive(Clone, Debug)]
enum Push {
    Report(Value),
    Close,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeKrakenWs {
    /// `ws://127.0.0.1:PORT/v2`.
    pub url: String,
    state: Arc<Mutex<State>>,
    live: broadcast::Sender<Push>,
    /// The REST fake whose book `add_order` places into, if any.
    book: Option<Arc<Shared>>,
}

impl FakeKrakenWs {
    /// Starts the fake on a free port (executions only: `add_order` is refused).
    pub async fn start() -> Self {
        Self::start_on(None).await
    }

    /// Starts the fake with order entry into `kraken`'s book, so its REST lookups
    /// see orders placed over the socket.
    pub async fn start_with(kraken: &FakeKraken) -> Self {
        Self::start_on(Some(kraken.shared())).await
    }

    async fn start_on(book: Option<Arc<Shared>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/v2", listener.local_addr().unwrap());
        let fake = FakeKrakenWs {
            url,
            state: Arc::default(),
            live: broadcast::channel(4096).0,
            book,
        };
        let server = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    if server.state().down {
                        return; // the TCP connection is dropped unanswered
                    }
                    if let Ok(socket) = tokio_tungstenite::accept_async(stream).await {
                        server.serve(socket).await;
                    }
                });
            }
        });
        fake
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    async fn serve(&self, socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) {
        let (mut tx, mut rx) = socket.split();
        let mut live = self.live.subscribe();
        let mut subscribed = false;
        loop {
            tokio::select! {
                push = live.recv() => match push {
                    Ok(Push::Report(_)) if !subscribed => {}
                    Ok(Push::Report(report)) => {
                        let frame = json!({"channel": "executions", "type": "update", "data": [report]});
                        if tx.send(Message::text(frame.to_string())).await.is_err() {
                            return;
                        }
                    }
                    Ok(Push::Close) | Err(_) => return,
                },
                incoming = rx.next() => {
                    let Some(Ok(Message::Text(text))) = incoming else {
                        if matches!(incoming, Some(Ok(_))) { continue; }
                        return;
                    };
                    let request: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    let answers = match request["method"].as_str() {
                        Some("subscribe") => match self.subscribe(&request) {
                            Some(answers) => { subscribed = true; answers }
                            None if request["params"]["channel"] == "executions" => vec![json!({
                                "method": "subscribe", "success": false,
                                "error": "EAccount:Invalid token"})],
                            None => return,
                        },
                        Some("add_order") => match self.add_order(&request) {
                            OrderAnswer::Reply(answer) => vec![answer],
                            OrderAnswer::Silence => Vec::new(),
                            OrderAnswer::Drop => return,
                        },
                        _ => Vec::new(),
                    };
                    for answer in answers {
                        if tx.send(Message::text(answer.to_string())).await.is_err() {
                            return;
                        }
                    }
                    if request["method"] == "subscribe" && !subscribed {
                        return;
                    }
                }
            }
        }
    }

    /// Answers a subscribe: the acknowledgement and the snapshot, or `None` (after
    /// counting a refusal) for a request this fake does not take.
    fn subscribe(&self, request: &Value) -> Option<Vec<Value>> {
        let params = &request["params"];
        if params["channel"] != "executions" {
            return None;
        }
        if params["token"] != WS_TOKEN {
            self.state().refused += 1;
            return None;
        }
        let mut state = self.state();
        state.subscriptions.push(Instant::now());
        let trades: Vec<Value> = state
            .history
            .iter()
            .filter(|r| r["exec_type"] == "trade")
            .cloned()
            .collect();
        let skip = trades.len().saturating_sub(SNAPSHOT_TRADES);
        let snapshot: Vec<Value> = trades.into_iter().skip(skip).collect();
        let ack = json!({"method": "subscribe", "success": true,
            "result": {"channel": "executions", "snap_orders": true, "snap_trades": true}});
        let frame = json!({"channel": "executions", "type": "snapshot", "data": snapshot});
        Some(vec![ack, frame])
    }

    /// Takes an `add_order` into the REST fake's book (as Kraken's one engine would)
    /// and answers it as scripted.
    fn add_order(&self, request: &Value) -> OrderAnswer {
        let req_id = request["req_id"].clone();
        let refuse = |error: &str| {
            OrderAnswer::Reply(json!({"method": "add_order", "req_id": req_id,
                "success": false, "error": error}))
        };
        let params = &request["params"];
        if params["token"] != WS_TOKEN {
            return refuse("EAccount:Invalid token");
        }
        let Some(book) = self.book.clone() else {
            return refuse("EGeneral:Internal error");
        };
        let script = self.state().script.pop_front();
        let txid = match super::fake_kraken::ws_book::accept_ws(&book, params) {
            Ok(txid) => txid,
            Err(error) => return refuse(&error),
        };
        self.state().orders += 1;
        match script {
            Some(WsBehaviour::AcceptThenSilence) => OrderAnswer::Silence,
            Some(WsBehaviour::AcceptThenDrop) => OrderAnswer::Drop,
            None => OrderAnswer::Reply(json!({"method": "add_order", "req_id": req_id,
                "success": true, "result": {"order_id": txid, "cl_ord_id": params["cl_ord_id"],
                "order_userref": params["order_userref"]},
                "time_in": chrono::Utc::now().to_rfc3339(), "time_out": chrono::Utc::now().to_rfc3339()})),
        }
    }

    /// Queues how the next `add_order` requests are answered, in order; once the queue
    /// is empty, orders are accepted and acknowledged.
    pub fn script(&self, behaviour: WsBehaviour) {
        self.state().script.push_back(behaviour);
    }

    /// How many `add_order` requests were accepted into the book.
    pub fn orders_accepted(&self) -> usize {
        self.state().orders
    }

    /// Sends `report` to every subscriber (none while down) and keeps it for later
    /// snapshots (and, started with a REST fake, lists a trade in its `TradesHistory`).
    pub fn push(&self, report: Value) {
        self.state().history.push(report.clone());
        if let (Some(book), "trade") = (&self.book, report["exec_type"].as_str().unwrap_or("")) {
            super::fake_kraken::ws_book::record_trade(book, &report);
        }
        let _ = self.live.send(Push::Report(report));
    }

    /// Closes every open connection.
    pub fn drop_connections(&self) {
        let _ = self.live.send(Push::Close);
    }

    /// Refuses (`true`) or accepts new connections.
    pub fn set_down(&self, down: bool) {
        self.state().down = down;
    }

    /// How many subscriptions succeeded, and when the last one did.
    pub fn subscriptions(&self) -> (usize, Option<Instant>) {
        let state = self.state();
        (
            state.subscriptions.len(),
            state.subscriptions.last().copied(),
        )
    }
}

/// A `trade` report of `volume` at `price` for our order `cl_ord_id` (Kraken's v2
/// shape: numbers as JSON numbers), with a 0.26% fee in USD. `status` is the
/// `order_status` Kraken gives (it may say `partially_filled` for the last trade).
pub fn trade(cl_ord_id: &str, exec_id: &str, volume: f64, price: f64, status: &str) -> Value {
    json!({
        "order_id": "OFAKE-WS", "cl_ord_id": cl_ord_id, "exec_id": exec_id,
        "exec_type": "trade", "trade_id": 1, "symbol": "BTC/USD", "side": "buy",
        "order_type": "limit", "last_qty": volume, "last_price": price,
        "cost": volume * price, "liquidity_ind": "m", "order_status": status,
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "fees": [{"asset": "USD", "qty": 1.0}]
    })
}

/// The `filled` report that completes `cl_ord_id`.
pub fn filled(cl_ord_id: &str) -> Value {
    json!({"order_id": "OFAKE-WS", "cl_ord_id": cl_ord_id, "exec_type": "filled",
        "order_status": "filled", "timestamp": chrono::Utc::now().to_rfc3339()})
}

/// A `canceled` report for `cl_ord_id`, with Kraken's reason.
pub fn canceled(cl_ord_id: &str, reason: &str) -> Value {
    json!({"order_id": "OFAKE-WS", "cl_ord_id": cl_ord_id, "exec_type": "canceled",
        "order_status": "canceled", "reason": reason,
        "timestamp": chrono::Utc::now().to_rfc3339()})
}
