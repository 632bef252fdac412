//! MQTT over WebSocket (ws and wss): the HTTP upgrade on any path, answering with the `mqtt`
//! subprotocol when the client offers it, then binary messages read and written as one byte
//! stream (MQTT packets may be split across messages in any way).

use async_tungstenite::tokio::{TokioAdapter, accept_hdr_async_with_config};
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_stream_tungstenite::WsStream;

/// The subprotocol names MQTT clients offer: `mqtt` (3.1.1 and 5), `mqttv3.1` (3.1).
const SUBPROTOCOLS: &[&str] = &["mqtt", "mqttv3.1"];
/// A WebSocket message may hold a whole MQTT packet and its fixed header.
const FIXED_HEADER_MAX: usize = 5;

/// A WebSocket connection as the byte stream MQTT reads and writes.
pub(crate) type ByteStream<S> = WsStream<TokioAdapter<S>>;

/// Answer the HTTP upgrade. Err is the reason, for the log.
pub(crate) async fn accept<S>(stream: S, max_packet_size: usize) -> Result<ByteStream<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let limit = Some(max_packet_size.saturating_add(FIXED_HEADER_MAX));
    let config = WebSocketConfig::default()
        .max_message_size(limit)
        .max_frame_size(limit);
    let websocket = accept_hdr_async_with_config(stream, choose_subprotocol, Some(config))
        .await
        .map_err(|err| format!("WebSocket upgrade failed: {err}"))?;
    Ok(WsStream::new(websocket))
}

#[allow(clippy::result_large_err)] // the callback's signature is tungstenite's
fn choose_subprotocol(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    let chosen = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|offered| SUBPROTOCOLS.iter().find(|name| **name == offered.trim()));
    if let Some(chosen) = chosen {
        response
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static(chosen));
    }
    Ok(response)
}
