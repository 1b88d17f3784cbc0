//! Knowing when a signed request has been handed to its connection, so the per-key
//! nonce lock can be released then rather than when the answer arrives.
//!
//! The request body is wrapped in a [`SignalBody`]: the HTTP connection takes the
//! body's one frame when it writes the request (headers and body go into the
//! connection's write buffer and are flushed in the same step), and taking it fires
//! [`HandedOff`]. Dropping the body unsent (a connect error, a cancelled future) fires
//! it too. The body reports its exact length, so it is still sent with a
//! `Content-Length`, never chunked, and its bytes are exactly the signed ones.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

/// The longest the nonce lock waits for a request to be handed to its connection.
///
/// On a pooled (or HTTP/2) connection the hand-off takes microseconds and the lock is
/// released at once. The bound only matters when a new connection must be set up
/// (a TLS handshake to Kraken takes tens of milliseconds, a dead route up to the
/// connect timeout): waiting longer would then delay every other order, and waiting
/// for the handshake would buy nothing certain anyway, since two connections give no
/// ordering guarantee at Kraken. 10 ms keeps the delay any one request can impose on
/// the next to "a few milliseconds" while covering a write on a warm connection with
/// a wide margin. A request overtaken by a later nonce is refused with
/// `EAPI:Invalid nonce` before the engine: a safe retry with a fresh nonce.
pub const HANDOFF_BOUND: Duration = Duration::from_millis(10);

/// A request body that reports when the connection takes it.
#[derive(Debug)]
pub struct SignalBody {
    data: Option<Bytes>,
    taken: Option<oneshot::Sender<()>>,
}

/// Resolves once the paired [`SignalBody`] was taken by its connection or dropped.
#[derive(Debug)]
pub struct HandedOff(oneshot::Receiver<()>);

/// How waiting for the hand-off ended, for the debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOff {
    /// The connection took the body: the request is being written.
    Written,
    /// The body was dropped without being sent (the request failed before writing).
    Dropped,
    /// [`HANDOFF_BOUND`] passed first (e.g. a connection still being set up).
    BoundElapsed,
}

/// Wraps the exact signed bytes of a request.
pub fn signal_body(body: String) -> (SignalBody, HandedOff) {
    let (tx, rx) = oneshot::channel();
    let body = SignalBody {
        data: Some(Bytes::from(body)),
        taken: Some(tx),
    };
    (body, HandedOff(rx))
}

/// Scheduler turns granted after [`HANDOFF_BOUND`] before giving up on the hand-off.
///
/// The bound is wall time, but the connection can only take the body when the
/// runtime polls it: on a busy runtime (a burst of orders being prepared at once)
/// the bound can pass before the connection, or the task driving its connect, was
/// polled at all, and releasing then would reorder nonces for nothing. A yield puts
/// this task behind everything already runnable and after an I/O poll, so a
/// connection that is ready takes the body within a turn or two; a connection that is
/// not (a handshake in progress, a dead route) does not, and the lock goes.
const GRACE_TURNS: usize = 3;

impl HandedOff {
    /// Waits for the hand-off, at most `bound` and then a few scheduler turns (see
    /// `GRACE_TURNS` in the source).
    pub async fn wait(mut self, bound: Duration) -> HandOff {
        if let Ok(taken) = tokio::time::timeout(bound, &mut self.0).await {
            return if taken.is_ok() {
                HandOff::Written
            } else {
                HandOff::Dropped
            };
        }
        for _ in 0..GRACE_TURNS {
            tokio::task::yield_now().await;
            match self.0.try_recv() {
                Ok(()) => return HandOff::Written,
                Err(oneshot::error::TryRecvError::Closed) => return HandOff::Dropped,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
        HandOff::BoundElapsed
    }
}

impl Body for SignalBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        // Every field is Unpin, so the pin can be dropped.
        let this = self.get_mut();
        let frame = this.data.take().map(|data| Ok(Frame::data(data)));
        if let Some(taken) = this.taken.take() {
            // The receiver may be gone (the sender stopped waiting): nothing to tell.
            let _ = taken.send(());
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn taking_the_body_signals_the_hand_off_with_the_exact_bytes() {
        let (mut body, handed_off) = signal_body("nonce=1&a=b".into());
        assert_eq!(body.size_hint().exact(), Some(11));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) else {
            panic!("one data frame");
        };
        assert_eq!(frame.into_data().unwrap(), Bytes::from("nonce=1&a=b"));
        assert!(body.is_end_stream());
        assert_eq!(handed_off.wait(HANDOFF_BOUND).await, HandOff::Written);
    }

    #[tokio::test]
    async fn a_body_dropped_unsent_releases_at_once() {
        let (body, handed_off) = signal_body("nonce=1".into());
        drop(body);
        assert_eq!(
            handed_off.wait(Duration::from_secs(5)).await,
            HandOff::Dropped
        );
    }

    #[tokio::test]
    async fn a_body_never_taken_releases_after_the_bound() {
        let (_body, handed_off) = signal_body("nonce=1".into());
        let started = std::time::Instant::now();
        assert_eq!(handed_off.wait(HANDOFF_BOUND).await, HandOff::BoundElapsed);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
