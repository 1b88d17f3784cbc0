//! A fake of Kraken's authenticated WebSocket v2 `executions` channel: a real
//! WebSocket server on port 0 (tokio-tungstenite) that checks the token handed out by
//! the fake's `GetWebSocketsToken`, answers `subscribe`, sends a snapshot of the last
//! 50 trades on every subscribe, streams scripted reports to subscribers, and can drop
//! its connections or refuse new ones for a while.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

use super::fake_kraken::WS_TOKEN;

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
}

impl FakeKrakenWs {
    /// Starts the fake on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/v2", listener.local_addr().unwrap());
        let fake = FakeKrakenWs {
            url,
            state: Arc::default(),
            live: broadcast::channel(4096).0,
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
        // Wait for the subscribe request.
        let Some(Ok(Message::Text(text))) = rx.next().await else {
            return;
        };
        let request: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
        let params = &request["params"];
        if request["method"] != "subscribe" || params["channel"] != "executions" {
            return;
        }
        if params["token"] != WS_TOKEN {
            self.state().refused += 1;
            let refusal = json!({"method": "subscribe", "success": false,
                "error": "EAccount:Invalid token"});
            let _ = tx.send(Message::text(refusal.to_string())).await;
            return;
        }
        let snapshot: Vec<Value> = {
            let mut state = self.state();
            state.subscriptions.push(Instant::now());
            let trades: Vec<Value> = state
                .history
                .iter()
                .filter(|r| r["exec_type"] == "trade")
                .cloned()
                .collect();
            let skip = trades.len().saturating_sub(SNAPSHOT_TRADES);
            trades.into_iter().skip(skip).collect()
        };
        let ack = json!({"method": "subscribe", "success": true,
            "result": {"channel": "executions", "snap_orders": true, "snap_trades": true}});
        let frame = json!({"channel": "executions", "type": "snapshot", "data": snapshot});
        for message in [ack, frame] {
            if tx.send(Message::text(message.to_string())).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                push = live.recv() => match push {
                    Ok(Push::Report(report)) => {
                        let frame = json!({"channel": "executions", "type": "update", "data": [report]});
                        if tx.send(Message::text(frame.to_string())).await.is_err() {
                            return;
                        }
                    }
                    Ok(Push::Close) | Err(_) => return,
                },
                incoming = rx.next() => if !matches!(incoming, Some(Ok(_))) {
                    return;
                },
            }
        }
    }

    /// Sends `report` to every subscriber (none while down) and keeps it for later
    /// snapshots.
    pub fn push(&self, report: Value) {
        self.state().history.push(report.clone());
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
