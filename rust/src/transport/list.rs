//! Requests whose answer is decoded while its body arrives: a LIST's items are decoded as soon
//! as their bytes are in (codec::list), so decoding overlaps the transfer. A task on the runtime
//! reads the body off the connection as fast as it comes (flow control never holds the server
//! back while items are decoded); the thread waiting for the answer — the caller's with the GIL
//! released, or for asyncio a blocking thread of the runtime — decodes what has arrived:
//! compact items with no GIL, Python objects in batches, each with the GIL.
use super::client::{describe, Call, Failed, Head, IntoPyObjectConverter, Shared};
use super::runtime::runtime;
use crate::codec::list::{Decoding, StreamingList};
use crate::codec::pyobjects::GcPaused;
use crate::codec::Format;
use pyo3::prelude::*;
use reqwest::header::CONTENT_TYPE;
use std::sync::{mpsc, Arc};
use std::time::Instant;

/// Body bytes decoded into Python objects per turn with the GIL: a few milliseconds, so other
/// threads (an event loop) get the GIL between batches.
const BATCH: usize = 1 << 20;

/// A 2xx answer in JSON or protobuf, its body decoded as it arrived into `value`.
#[pyclass(frozen, module = "kcore._core")]
pub struct DecodedResponse {
    #[pyo3(get)]
    status: u16,
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    #[pyo3(get)]
    value: Py<PyAny>,
    #[pyo3(get)]
    http_version: String,
}

/// An answer: decoded, or whole (any other status or media type) as `Transport.request` gives it.
pub enum Answer {
    Whole(Head, bytes::Bytes),
    Decoded(Head, Py<PyAny>),
}

impl<'py> IntoPyObjectConverter<'py> for Answer {
    fn convert(self, py: Python<'py>) -> PyResult<Py<PyAny>> {
        match self {
            Answer::Whole(head, body) => (head, body).convert(py),
            Answer::Decoded(
                Head {
                    status,
                    headers,
                    http_version,
                },
                value,
            ) => Ok(Py::new(
                py,
                DecodedResponse {
                    status,
                    headers,
                    value,
                    http_version,
                },
            )?
            .into_any()),
        }
    }
}

/// The format of an answer to decode as it arrives: a 2xx whose media type is one that
/// kcore.clients.rest decodes (exactly "application/json" or the Kubernetes protobuf one).
fn decodable(response: &reqwest::Response) -> Option<Format> {
    if response.status().as_u16() >= 300 {
        return None;
    }
    let content_type = response.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    match content_type.split(';').next()?.trim() {
        "application/json" => Some(Format::Json),
        "application/vnd.kubernetes.protobuf" => Some(Format::Protobuf),
        _ => None,
    }
}

fn what(call: &Call) -> String {
    format!("{} {}", call.method, call.url)
}

async fn whole(response: reqwest::Response, what: &str) -> Result<bytes::Bytes, Failed> {
    response
        .bytes()
        .await
        .map_err(|e| Failed::Transport(format!("{what}: reading the body: {}", describe(&e))))
}

/// Sends `call` and decodes its answer as it arrives, on this thread (no GIL held, not inside
/// the runtime).
pub fn fetch_decoded(shared: &Shared, call: Call, decoding: Decoding) -> Result<Answer, Failed> {
    let start = Instant::now();
    let answer = (|| {
        let response = runtime().block_on(shared.send(&call))?;
        let head = Head::of(&response);
        match decodable(&response) {
            None => Ok(Answer::Whole(head, runtime().block_on(whole(response, &what(&call)))?)),
            Some(format) => Ok(Answer::Decoded(
                head,
                receive(response, &what(&call), format, decoding)?,
            )),
        }
    })();
    shared.took(&call, start);
    answer
}

/// The same on the runtime: the decoding on a blocking thread of its own.
pub async fn fetch_decoded_async(shared: Arc<Shared>, call: Call, decoding: Decoding) -> Result<Answer, Failed> {
    let start = Instant::now();
    let answer = async {
        let response = shared.send(&call).await?;
        let head = Head::of(&response);
        let what = what(&call);
        match decodable(&response) {
            None => Ok(Answer::Whole(head, whole(response, &what).await?)),
            Some(format) => {
                let decoding = tokio::task::spawn_blocking(move || receive(response, &what, format, decoding));
                let value = decoding
                    .await
                    .map_err(|e| Failed::Transport(format!("decoding the body: {e}")))??;
                Ok(Answer::Decoded(head, value))
            }
        }
    }
    .await;
    shared.took(&call, start);
    answer
}

/// What the reader hands over.
enum Piece {
    Chunks(Vec<bytes::Bytes>),
    End,
    Broke(String),
}

/// Bytes handed over at a time at most: the chunks that are in when the decoder asks, not one
/// wake-up per chunk (the gzip decoder hands out 4 KB at a time: thousands of chunks a list).
const HANDOVER: usize = 1 << 18;

/// Reads the body into `pieces` until it ends or breaks, or nobody listens any more.
async fn pump(mut response: reqwest::Response, pieces: mpsc::Sender<Piece>) {
    loop {
        let (mut chunks, mut size) = (Vec::new(), 0);
        // The first chunk is waited for; then those already in are taken without waiting.
        let end = loop {
            let next = if chunks.is_empty() {
                response.chunk().await
            } else {
                let ready = tokio::select! {
                    biased;
                    next = response.chunk() => Some(next),
                    () = std::future::ready(()) => None,
                };
                match ready {
                    Some(next) => next,
                    None => break None,
                }
            };
            match next {
                Ok(Some(chunk)) => {
                    size += chunk.len();
                    chunks.push(chunk);
                    if size >= HANDOVER {
                        break None;
                    }
                }
                Ok(None) => break Some(Piece::End),
                Err(e) => break Some(Piece::Broke(describe(&e))),
            }
        };
        if !chunks.is_empty() && pieces.send(Piece::Chunks(chunks)).is_err() {
            return; // nobody listens: the connection goes
        }
        if let Some(end) = end {
            let _ = pieces.send(end);
            return;
        }
    }
}

/// Decodes the body as it arrives (a blocking call, made without the GIL); None for an empty
/// body, as kcore.clients.rest gives it.
fn receive(response: reqwest::Response, what: &str, format: Format, decoding: Decoding) -> Result<Py<PyAny>, Failed> {
    let (tx, pieces) = mpsc::channel();
    runtime().spawn(pump(response, tx));
    let mut list = StreamingList::new(format, decoding);
    // Python objects: CPython's collector waits until the list is whole, as it does while a
    // body is decoded at once (other threads run without it meanwhile); paused per batch, it
    // would go over every earlier batch again and again.
    let mut gc: Option<GcPaused> = None;
    let mut ended = false;
    while !ended || list.has_pending() {
        // Wait for the body only when nothing is left to decode; then take all that is in.
        let first = (!ended && !list.has_pending()).then(|| {
            pieces
                .recv()
                .unwrap_or_else(|_| Piece::Broke("the reader stopped".into()))
        });
        for piece in first.into_iter().chain(std::iter::from_fn(|| pieces.try_recv().ok())) {
            match piece {
                Piece::Chunks(c) => {
                    for chunk in c {
                        list.feed(&chunk);
                    }
                }
                Piece::End => ended = true,
                Piece::Broke(e) => return Err(Failed::Transport(format!("{what}: reading the body: {e}"))),
            }
        }
        if list.has_pending() {
            Python::attach(|py| {
                if gc.is_none() {
                    gc = Some(GcPaused::new(py)?);
                }
                list.decode_batch(py, BATCH)
            })
            .map_err(Failed::Python)?;
        }
    }
    Python::attach(|py| {
        let value = if list.is_empty() {
            Ok(py.None())
        } else {
            list.finish(py)
        };
        drop(gc);
        value
    })
    .map_err(Failed::Python)
}
