//! The whole-request deadline: a request's body must arrive within
//! `server.request_timeout_secs` of its start, or the answer is `408` and the
//! connection is closed. The body is read here, before any handler runs, so a
//! handler's own waiting (`?wait=`) is not cut short by the client's deadline.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::BytesMut;
use http_body_util::BodyExt as _;
use tokio::time::Instant;

use crate::http::error::ApiError;

/// Reads `body` until it ends, or answers instead: `413` once more than `limit` bytes
/// have come (for every route alike), `408` at `deadline`.
pub async fn read_by_deadline<B>(body: B, limit: usize, deadline: Instant) -> Result<Body, Response>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
{
    if body.is_end_stream() {
        return Ok(Body::empty());
    }
    let read = async move {
        let mut body = body;
        let mut buffer = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|_| ApiError::field("body", "the request body could not be read"))?;
            if let Ok(data) = frame.into_data() {
                buffer.extend_from_slice(&data);
                if buffer.len() > limit {
                    return Err(ApiError::PayloadTooLarge(limit));
                }
            }
        }
        Ok(buffer.freeze())
    };
    match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(bytes)) => Ok(Body::from(bytes)),
        Ok(Err(refusal)) => Err(refusal.into_response()),
        Err(_) => Err(timed_out()),
    }
}

/// `408 Request Timeout`, closing the connection.
pub fn timed_out() -> Response {
    let body = serde_json::json!({
        "error": "request_timeout",
        "message": "the request did not arrive in time (server.request_timeout_secs)",
    });
    let mut response = (StatusCode::REQUEST_TIMEOUT, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_body_that_arrives_in_time_is_handed_on_whole() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let body = http_body_util::Full::new(bytes::Bytes::from_static(b"{\"a\":1}"));
        let read = read_by_deadline(body, 100, deadline).await.unwrap();
        let bytes = read.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"{\"a\":1}");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_answered_413() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let body = http_body_util::Full::new(bytes::Bytes::from(vec![b'x'; 101]));
        let response = read_by_deadline(body, 100, deadline).await.unwrap_err();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn a_body_still_arriving_at_the_deadline_is_answered_408() {
        let (sender, body) = http_body_util_channel();
        tokio::spawn(async move {
            let _ = sender.send(bytes::Bytes::from_static(b"{")).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let deadline = Instant::now() + Duration::from_millis(200);
        let response = read_by_deadline(body, 100, deadline).await.unwrap_err();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    }

    /// A stream of body frames.
    type Frames = futures::stream::BoxStream<
        'static,
        Result<http_body::Frame<bytes::Bytes>, std::convert::Infallible>,
    >;

    /// A body fed by a channel, for a body that never ends.
    fn http_body_util_channel() -> (
        tokio::sync::mpsc::Sender<bytes::Bytes>,
        http_body_util::StreamBody<Frames>,
    ) {
        use futures::StreamExt as _;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver)
            .map(|bytes| Ok(http_body::Frame::data(bytes)))
            .boxed();
        (sender, http_body_util::StreamBody::new(stream))
    }
}
