//! `WebSocket`: a client WebSocket (RFC 6455) over an HTTP/1.1 upgrade of the transport's own
//! connection pool, for the API server's streaming subresources (exec, attach, portforward).
//!
//! Hand-written rather than tokio-tungstenite: reqwest already upgrades a request on the same
//! TLS configuration, proxy and rate limiter as every other call, so only the framing is left
//! (binary messages, ping/pong, close): about two hundred lines and no second TLS stack.
use super::client::{spawn_with_callback, IntoPyObjectConverter};
use super::runtime::runtime;
use super::TransportFailure;
use base64::Engine;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Mutex};

/// RFC 6455's GUID, appended to the key for the server's Sec-WebSocket-Accept.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// A message larger than this is refused: the API server's own limit is 32 MiB a message.
const MAX_MESSAGE: u64 = 64 << 20;
/// Messages read ahead of Python; a slow reader stops the socket being read (back-pressure).
const READ_AHEAD: usize = 64;

const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// A fresh Sec-WebSocket-Key (16 random bytes in base64) and the accept value it calls for.
pub fn handshake_key() -> (String, String) {
    let mut nonce = [0u8; 16];
    SystemRandom::new()
        .fill(&mut nonce)
        .expect("the system's random source failed");
    let key = base64::engine::general_purpose::STANDARD.encode(nonce);
    let accept = accept_for(&key);
    (key, accept)
}

fn accept_for(key: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{ACCEPT_GUID}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// One frame as a client must send it: FIN set, masked with a fresh key.
fn client_frame(opcode: u8, payload: &[u8], random: &SystemRandom) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    let length = payload.len();
    if length < 126 {
        frame.push(0x80 | length as u8);
    } else if length <= u16::MAX as usize {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(length as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(length as u64).to_be_bytes());
    }
    let mut mask = [0u8; 4];
    random.fill(&mut mask).expect("the system's random source failed");
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// What the reader found: a whole data message, a ping to answer, or the end.
enum Read {
    Message(Vec<u8>),
    Ping(Vec<u8>),
    Closed,
}

/// Read frames until a whole message, a ping or a close (control frames may come between the
/// fragments of a message).
async fn read_message<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Read, String> {
    let mut message: Option<Vec<u8>> = None;
    loop {
        let mut head = [0u8; 2];
        if let Err(e) = reader.read_exact(&mut head).await {
            return if e.kind() == std::io::ErrorKind::UnexpectedEof && message.is_none() {
                Ok(Read::Closed) // the server dropped the connection between messages
            } else {
                Err(format!("the WebSocket broke: {e}"))
            };
        }
        let (fin, opcode, masked) = (head[0] & 0x80 != 0, head[0] & 0x0F, head[1] & 0x80 != 0);
        let length = match head[1] & 0x7F {
            126 => {
                let mut n = [0u8; 2];
                reader
                    .read_exact(&mut n)
                    .await
                    .map_err(|e| format!("the WebSocket broke: {e}"))?;
                u16::from_be_bytes(n) as u64
            }
            127 => {
                let mut n = [0u8; 8];
                reader
                    .read_exact(&mut n)
                    .await
                    .map_err(|e| format!("the WebSocket broke: {e}"))?;
                u64::from_be_bytes(n)
            }
            n => n as u64,
        };
        let buffered = message.as_ref().map_or(0, |m| m.len() as u64);
        if length + buffered > MAX_MESSAGE {
            return Err(format!("the server sent a WebSocket message over {MAX_MESSAGE} bytes"));
        }
        let mut mask = [0u8; 4];
        if masked {
            reader
                .read_exact(&mut mask)
                .await
                .map_err(|e| format!("the WebSocket broke: {e}"))?;
        }
        let mut payload = vec![0u8; length as usize];
        reader
            .read_exact(&mut payload)
            .await
            .map_err(|e| format!("the WebSocket broke: {e}"))?;
        if masked {
            payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= mask[i % 4]);
        }
        match opcode {
            CLOSE => return Ok(Read::Closed),
            PING => return Ok(Read::Ping(payload)),
            PONG => continue,
            TEXT | BINARY if message.is_none() => message = Some(payload),
            CONTINUATION if message.is_some() => message.as_mut().unwrap().extend_from_slice(&payload),
            other => {
                return Err(format!(
                    "the server sent an unexpected WebSocket frame (opcode {other:#x})"
                ))
            }
        }
        if fin {
            return Ok(Read::Message(message.take().unwrap_or_default()));
        }
    }
}

/// Resolves once `close_streams` is called; never when the transport is dropped first (its
/// sockets outlive it, as its open streams do not need it).
async fn closed_by_transport(closed: &mut tokio::sync::watch::Receiver<bool>) {
    if closed.wait_for(|closed| *closed).await.is_err() {
        std::future::pending::<()>().await
    }
}

enum Outgoing {
    Binary(Vec<u8>, tokio::sync::oneshot::Sender<Result<(), String>>),
    Pong(Vec<u8>),
    Close,
}

/// The messages (or the error that ended the connection) the reader task has received.
type Inbox = Arc<Mutex<mpsc::Receiver<Result<Vec<u8>, String>>>>;

/// An open WebSocket: binary messages in and out, from any thread or event loop.
#[pyclass(frozen, module = "kcore._core")]
pub struct WebSocket {
    /// The subprotocol the server chose (Sec-WebSocket-Protocol), "" when it chose none.
    #[pyo3(get)]
    protocol: String,
    /// The 101's headers, in order.
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    incoming: Inbox,
    outgoing: mpsc::UnboundedSender<Outgoing>,
}

impl WebSocket {
    /// Start the reader and writer tasks on an upgraded connection.
    /// `closed`: the transport's `close_streams`, which ends the socket as it ends every stream.
    pub fn start<S: AsyncRead + AsyncWrite + Send + 'static>(
        stream: S,
        protocol: String,
        headers: Vec<(String, String)>,
        mut closed: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let (deliver, incoming) = mpsc::channel(READ_AHEAD);
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Outgoing>();
        let pongs = outgoing.clone();
        runtime().spawn(async move {
            loop {
                let read = tokio::select! {
                    read = read_message(&mut reader) => read,
                    _ = closed_by_transport(&mut closed) => Ok(Read::Closed),
                };
                match read {
                    Ok(Read::Message(message)) => {
                        if deliver.send(Ok(message)).await.is_err() {
                            break; // nobody reads any more
                        }
                    }
                    Ok(Read::Ping(payload)) => {
                        let _ = pongs.send(Outgoing::Pong(payload));
                    }
                    Ok(Read::Closed) => break,
                    Err(e) => {
                        let _ = deliver.send(Err(e)).await;
                        break;
                    }
                }
            }
            // The server is done: let the writer send its close and shut the connection.
            let _ = pongs.send(Outgoing::Close);
        });
        runtime().spawn(async move {
            let random = SystemRandom::new();
            while let Some(next) = to_send.recv().await {
                let (frame, ack, last) = match next {
                    Outgoing::Binary(payload, ack) => (client_frame(BINARY, &payload, &random), Some(ack), false),
                    Outgoing::Pong(payload) => (client_frame(PONG, &payload, &random), None, false),
                    // 1000: normal closure.
                    Outgoing::Close => (client_frame(CLOSE, &1000u16.to_be_bytes(), &random), None, true),
                };
                let written = async {
                    writer.write_all(&frame).await?;
                    writer.flush().await
                }
                .await
                .map_err(|e| format!("the WebSocket broke while sending: {e}"));
                let failed = written.is_err();
                if let Some(ack) = ack {
                    let _ = ack.send(written);
                }
                if last || failed {
                    let _ = writer.shutdown().await;
                    break;
                }
            }
            // Later sends find the channel closed and fail.
        });
        WebSocket {
            protocol,
            headers,
            incoming: Arc::new(Mutex::new(incoming)),
            outgoing,
        }
    }

    fn enqueue(&self, data: Vec<u8>) -> Result<tokio::sync::oneshot::Receiver<Result<(), String>>, String> {
        let (ack, written) = tokio::sync::oneshot::channel();
        self.outgoing
            .send(Outgoing::Binary(data, ack))
            .map_err(|_| "the WebSocket is closed".to_owned())?;
        Ok(written)
    }
}

/// A socket dropped unclosed still says goodbye: otherwise its connection lives on until the
/// server hangs up.
impl Drop for WebSocket {
    fn drop(&mut self) {
        let _ = self.outgoing.send(Outgoing::Close);
    }
}

async fn written(ack: tokio::sync::oneshot::Receiver<Result<(), String>>) -> Result<(), String> {
    ack.await.unwrap_or_else(|_| Err("the WebSocket is closed".to_owned()))
}

async fn receive(incoming: Inbox) -> Result<Option<Vec<u8>>, String> {
    incoming.lock().await.recv().await.transpose()
}

impl<'py> IntoPyObjectConverter<'py> for Option<Vec<u8>> {
    fn convert(self, py: Python<'py>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Some(message) => PyBytes::new(py, &message).into_any().unbind(),
            None => py.None(),
        })
    }
}

impl<'py> IntoPyObjectConverter<'py> for () {
    fn convert(self, py: Python<'py>) -> PyResult<Py<PyAny>> {
        Ok(py.None())
    }
}

#[pymethods]
impl WebSocket {
    /// 101 (Switching Protocols), as every open WebSocket was answered.
    #[getter]
    fn status(&self) -> u16 {
        101
    }

    /// Send one binary message; returns once it is written (GIL released while waiting).
    fn send(&self, py: Python<'_>, data: Vec<u8>) -> PyResult<()> {
        let ack = self.enqueue(data).map_err(TransportFailure::new_err)?;
        py.detach(move || runtime().block_on(written(ack)))
            .map_err(TransportFailure::new_err)
    }

    /// The asyncio twin of `send`: later `done(True, None)` or `done(False, exc)`.
    fn send_async(&self, done: Py<PyAny>, data: Vec<u8>) {
        let ack = self.enqueue(data);
        spawn_with_callback(done, async move { written(ack?).await });
    }

    /// Block (GIL released) for the next message; `None` once the server has closed.
    /// With `timeout` seconds and nothing arriving, raises TransportFailure.
    #[pyo3(signature = (timeout=None))]
    fn receive(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let incoming = self.incoming.clone();
        let outcome = py.detach(move || {
            runtime().block_on(async move {
                match timeout {
                    None => receive(incoming).await,
                    Some(seconds) => {
                        tokio::time::timeout(std::time::Duration::from_secs_f64(seconds.max(0.0)), receive(incoming))
                            .await
                            .unwrap_or_else(|_| Err(format!("no message on the WebSocket for {seconds} s")))
                    }
                }
            })
        });
        outcome.map_err(TransportFailure::new_err)?.convert(py)
    }

    /// The asyncio twin of `receive`: later `done(True, bytes | None)` or `done(False, exc)`.
    fn receive_async(&self, done: Py<PyAny>) {
        spawn_with_callback(done, receive(self.incoming.clone()));
    }

    /// Send a close frame and shut the connection; pending and later receives end with None
    /// once the server's side is gone.
    fn close(&self) {
        let _ = self.outgoing.send(Outgoing::Close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_value_is_rfc_6455s_example() {
        // RFC 6455 section 1.3.
        assert_eq!(accept_for("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn a_client_frame_is_masked_and_reads_back() {
        let random = SystemRandom::new();
        for size in [0, 125, 126, 65535, 65536] {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let frame = client_frame(BINARY, &payload, &random);
            let read = runtime().block_on(read_message(&mut frame.as_slice())).unwrap();
            assert!(matches!(read, Read::Message(m) if m == payload), "size {size}");
        }
    }
}
