//! The `executions` feed: one authenticated WebSocket v2 connection per API key,
//! subscribed with `snap_orders` and `snap_trades`, reconnecting with exponential
//! backoff and jitter. Every (re)connect fetches a fresh token (REST
//! `GetWebSocketsToken`, as Kraken documents) and starts with a snapshot that repeats
//! the last 50 trades; the writer records each trade id once, so what happened while
//! disconnected is recorded and what was seen before is not recorded twice.
//!
//! Reports become [`ExecutionEvent`]s on a channel drained by
//! [`crate::fills::recorder`]; foreign orders are logged once and ignored. After each
//! snapshot the feed sends [`ExecutionEvent::Resynced`]: the recorder then asks REST
//! `QueryOrders` about every order still open here, so a completion or cancel missed
//! while disconnected (the snapshot repeats trades, not closed orders) is recorded.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rand::Rng;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::private::KrakenPrivate;
use super::ws_messages::{parse, subscribe};
use crate::fills::ExecutionEvent;

/// First wait after a lost connection; doubled per failure up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Kraken sends a heartbeat every second; this long without any frame is a dead link.
const SILENCE: Duration = Duration::from_secs(15);

/// The feed's settings.
#[derive(Clone)]
pub struct Feed {
    pub url: String,
    pub private: Arc<KrakenPrivate>,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

/// `delay` with up to ±25% jitter, so many clients do not reconnect in step.
fn jittered(delay: Duration) -> Duration {
    let factor = rand::thread_rng().gen_range(0.75..1.25);
    delay.mul_f64(factor)
}

impl Feed {
    /// Runs until `events` is closed: connect, follow, back off, reconnect.
    pub async fn run(self, events: mpsc::UnboundedSender<ExecutionEvent>) {
        let mut foreign = HashSet::new();
        let mut delay = self.min_backoff;
        while !events.is_closed() {
            match self.session(&events, &mut foreign).await {
                // It was subscribed: the next drop starts over from the shortest wait.
                Ok(()) => delay = self.min_backoff,
                Err(err) => tracing::warn!(error = %err, "executions feed: connection failed"),
            }
            tokio::time::sleep(jittered(delay)).await;
            delay = (delay * 2).min(self.max_backoff);
        }
    }

    /// One connection: token, connect, subscribe, forward every report until the
    /// socket ends. `Ok` when it had subscribed before it ended.
    async fn session(
        &self,
        events: &mpsc::UnboundedSender<ExecutionEvent>,
        foreign: &mut HashSet<String>,
    ) -> Result<(), String> {
        let token = self
            .private
            .websockets_token()
            .await
            .map_err(|e| format!("GetWebSocketsToken: {e}"))?;
        let (mut socket, _) = tokio_tungstenite::connect_async(self.url.as_str())
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.url))?;
        let request = Message::text(subscribe(&token).to_string());
        socket
            .send(request)
            .await
            .map_err(|e| format!("subscribing: {e}"))?;
        let mut subscribed = false;
        loop {
            let next = tokio::time::timeout(SILENCE, socket.next()).await;
            let message = match next {
                Err(_) => return Err(format!("no frame for {} s", SILENCE.as_secs())),
                Ok(None) => break,
                Ok(Some(Err(err))) => {
                    tracing::warn!(error = %err, "executions feed: socket error");
                    break;
                }
                Ok(Some(Ok(message))) => message,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Close(_) => break,
                _ => continue,
            };
            let frame = match parse(text.as_str()) {
                Ok(frame) => frame,
                Err(err) => {
                    tracing::warn!(error = %err, "executions feed: unreadable frame");
                    continue;
                }
            };
            if let Some(error) = frame.refused {
                return Err(format!("subscription refused: {error}"));
            }
            if frame.subscribed {
                subscribed = true;
                tracing::info!("executions feed: subscribed");
            }
            for order_id in frame.foreign {
                if foreign.insert(order_id.clone()) {
                    tracing::info!(%order_id, "executions feed: an order tradehook did not place; ignored");
                }
            }
            let resynced = frame.snapshot.then_some(ExecutionEvent::Resynced);
            for event in frame.events.into_iter().chain(resynced) {
                if events.send(event).is_err() {
                    return Ok(());
                }
            }
        }
        if subscribed {
            tracing::warn!("executions feed: connection closed; reconnecting");
            Ok(())
        } else {
            Err("closed before the subscription was confirmed".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter_of_the_delay() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(4));
            assert!(
                d >= Duration::from_secs(3) && d <= Duration::from_secs(5),
                "{d:?}"
            );
        }
    }
}
