//! Order entry over Kraken's authenticated WebSocket v2 (`exchange.transport =
//! "websocket"`): one connection per API key, opened on first use with a token from
//! REST `GetWebSocketsToken` (Kraken: a token in use on a connection does not
//! expire), kept open, and replaced after any failure.
//!
//! One `add_order` is in flight at a time on the connection; its answer is matched by
//! `req_id`. The exactly-once rules are the REST ones: a failure before the request
//! was written is [`Sent::NotSent`]; no answer before the order's deadline, or a
//! connection lost after the write, is [`Sent::Lost`] — the caller records it as
//! ambiguous and settles it by lookup, never by sending it again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::order_form::Field;
use super::private::KrakenPrivate;
use super::ws_order::{add_order_message, answer, without_token, Answer};
use crate::exchange::{AttemptOutcome, OrderRequest};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long connecting (token and handshake) may take before the order is given up
/// as not sent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An open connection and the token it was opened with.
struct Connection {
    socket: Socket,
    token: String,
}

/// What became of one `add_order`.
#[derive(Debug)]
pub enum Sent {
    /// Nothing was written: the order certainly did not reach Kraken.
    NotSent(String),
    /// Kraken answered.
    Answered(Answer),
    /// Written, then no answer (timeout or lost connection): ambiguous.
    Lost(String),
}

/// The order-entry socket of one API key.
pub struct OrderSocket {
    url: String,
    private: Arc<KrakenPrivate>,
    connection: tokio::sync::Mutex<Option<Connection>>,
    next_req_id: AtomicU64,
}

impl OrderSocket {
    /// An order-entry socket on `url` (`exchange.kraken_ws_url`), not yet connected.
    pub fn new(url: String, private: Arc<KrakenPrivate>) -> Self {
        OrderSocket {
            url,
            private,
            connection: tokio::sync::Mutex::new(None),
            next_req_id: AtomicU64::new(1),
        }
    }

    async fn connect(&self) -> Result<Connection, String> {
        let token = self
            .private
            .websockets_token()
            .await
            .map_err(|e| format!("GetWebSocketsToken: {e}"))?;
        let (socket, _) = tokio_tungstenite::connect_async(self.url.as_str())
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.url))?;
        Ok(Connection { socket, token })
    }

    /// Sends `order` (its REST `fields`) and waits up to `wait` for the answer.
    /// Returns the request as recorded (without the token) and what became of it.
    pub async fn add_order(
        &self,
        order: &OrderRequest,
        fields: &[Field],
        wait: Duration,
    ) -> (Value, Sent) {
        let req_id = self.next_req_id.fetch_add(1, Ordering::Relaxed);
        let mut slot = self.connection.lock().await;
        if slot.is_none() {
            match tokio::time::timeout(CONNECT_TIMEOUT, self.connect()).await {
                Ok(Ok(connection)) => *slot = Some(connection),
                Ok(Err(reason)) => return (Value::Null, Sent::NotSent(reason)),
                Err(_) => return (Value::Null, Sent::NotSent("connecting timed out".into())),
            }
        }
        let Some(connection) = slot.as_mut() else {
            return (Value::Null, Sent::NotSent("no connection".into()));
        };
        let message = match add_order_message(order, fields, &connection.token, req_id) {
            Ok(message) => message,
            Err(err) => {
                let refused = Answer::Refused(format!("not sent: {err}"));
                return (Value::Null, Sent::Answered(refused));
            }
        };
        let recorded = without_token(&message);
        let sent = exchange(&mut connection.socket, message, req_id, wait).await;
        let keep = match &sent {
            // A refused token: the next order connects again with a fresh one.
            Sent::Answered(Answer::Refused(error)) => !error.contains("token"),
            Sent::Answered(_) => true,
            // A late answer must not be read as another request's, and a broken
            // connection is not reused.
            Sent::NotSent(_) | Sent::Lost(_) => false,
        };
        if !keep {
            *slot = None;
        }
        (recorded, sent)
    }
}

/// Writes `message` and reads frames until the answer to `req_id`, for up to `wait`.
async fn exchange(socket: &mut Socket, message: Value, req_id: u64, wait: Duration) -> Sent {
    if let Err(err) = socket.send(Message::text(message.to_string())).await {
        // The frame may have been partly or wholly written before the error.
        return Sent::Lost(format!("the socket failed while sending: {err}"));
    }
    let reading = async {
        loop {
            let text = match socket.next().await {
                None | Some(Ok(Message::Close(_))) => {
                    return Sent::Lost("the socket closed after the order was sent".into())
                }
                Some(Err(err)) => {
                    return Sent::Lost(format!("the socket failed after the order was sent: {err}"))
                }
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) => continue,
            };
            let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                continue;
            };
            match answer(&frame, req_id) {
                Answer::Other => continue,
                known => return Sent::Answered(known),
            }
        }
    };
    match tokio::time::timeout(wait, reading).await {
        Ok(sent) => sent,
        Err(_) => Sent::Lost(format!("no acknowledgement within {} ms", wait.as_millis())),
    }
}

/// What `sent` means for the order: the answer as recorded, and the outcome the
/// exactly-once machinery acts on (`validate`: only validated, nothing placed).
pub fn outcome(
    sent: Sent,
    validate: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> (Option<Value>, AttemptOutcome) {
    match sent {
        Sent::NotSent(reason) => (None, AttemptOutcome::NotSent { reason }),
        Sent::Lost(reason) => (None, AttemptOutcome::Ambiguous { reason }),
        Sent::Answered(Answer::Accepted(order_id)) => {
            let response = serde_json::json!({"success": true, "order_id": order_id});
            let outcome = match order_id {
                _ if validate => AttemptOutcome::Validated,
                Some(txid) => AttemptOutcome::Placed { txid },
                None => AttemptOutcome::Ambiguous {
                    reason: "Kraken accepted the order but returned no order_id".into(),
                },
            };
            (Some(response), outcome)
        }
        Sent::Answered(Answer::Refused(error)) if error.starts_with("not sent: ") => {
            (None, AttemptOutcome::Refused { error })
        }
        Sent::Answered(Answer::Refused(error)) => {
            let response = serde_json::json!({"success": false, "error": error});
            (Some(response), super::errors::outcome(&[error], now))
        }
        Sent::Answered(Answer::Other) => (
            None,
            AttemptOutcome::Ambiguous {
                reason: "no answer to the order".into(),
            },
        ),
    }
}
