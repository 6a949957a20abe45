//! `ResponseStream`: a body read chunk by chunk (watch streams, logs), closable from any thread.
use super::client::{spawn_with_callback, Head, IntoPyObjectConverter};
use super::runtime::runtime;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Arc;
use tokio::sync::{watch, Mutex};

#[pyclass(frozen, module = "kcore._core")]
pub struct ResponseStream {
    #[pyo3(get)]
    status: u16,
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    #[pyo3(get)]
    http_version: String,
    body: Body,
    closed: watch::Sender<bool>,
    /// The transport's: set when all of its streams must end.
    transport_closed: watch::Receiver<bool>,
}

type Body = Arc<Mutex<Option<reqwest::Response>>>;

impl ResponseStream {
    pub fn new(response: reqwest::Response, transport_closed: watch::Receiver<bool>) -> Self {
        let Head {
            status,
            headers,
            http_version,
        } = Head::of(&response);
        ResponseStream {
            status,
            headers,
            http_version,
            body: Arc::new(Mutex::new(Some(response))),
            closed: watch::channel(false).0,
            transport_closed,
        }
    }
}

/// The next chunk; `None` at the end of the body or once the stream or its transport is closed
/// (a pending read ends too).
async fn next_chunk(body: Body, (mut closed, mut transport_closed): Closers) -> Result<Option<bytes::Bytes>, String> {
    let mut guard = body.lock().await;
    let Some(response) = guard.as_mut() else {
        return Ok(None);
    };
    let outcome = loop {
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk.map_err(|e| format!("the stream broke: {e}")),
            () = set(&mut closed) => Ok(None),
            () = set(&mut transport_closed) => Ok(None),
        };
        // The gzip decoder can yield an empty chunk; it carries nothing, so read on.
        if !matches!(&chunk, Ok(Some(c)) if c.is_empty()) {
            break chunk;
        }
    };
    if !matches!(outcome, Ok(Some(_))) {
        *guard = None; // ended, broken or closed: drop the connection now
    }
    outcome
}

type Closers = (watch::Receiver<bool>, watch::Receiver<bool>);

/// Completes once the flag is set; never if its sender is gone unset (a transport dropped while
/// one of its streams is still read is no reason to end the stream).
async fn set(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|set| *set).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl ResponseStream {
    fn closers(&self) -> Closers {
        (self.closed.subscribe(), self.transport_closed.clone())
    }
}

impl<'py> IntoPyObjectConverter<'py> for Option<bytes::Bytes> {
    fn convert(self, py: Python<'py>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Some(chunk) => PyBytes::new(py, &chunk).into_any().unbind(),
            None => py.None(),
        })
    }
}

#[pymethods]
impl ResponseStream {
    /// Block (GIL released) for the next chunk of the body; `None` when it has ended.
    /// With `timeout` seconds and nothing arriving, raises TransportFailure and closes the stream.
    #[pyo3(signature = (timeout=None))]
    fn read(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let body = self.body.clone();
        let closed = self.closers();
        let outcome = py.detach(move || {
            runtime().block_on(async move {
                let Some(seconds) = timeout else {
                    return next_chunk(body, closed).await;
                };
                let limit = std::time::Duration::from_secs_f64(seconds.max(0.0));
                match tokio::time::timeout(limit, next_chunk(body.clone(), closed)).await {
                    Ok(result) => result,
                    Err(_) => {
                        body.lock().await.take();
                        Err(format!("no data on the stream for {seconds} s"))
                    }
                }
            })
        });
        outcome.map_err(super::TransportFailure::new_err)?.convert(py)
    }

    /// The asyncio twin of `read`: later `done(True, bytes | None)` or `done(False, exc)`.
    fn read_async(&self, done: Py<PyAny>) {
        spawn_with_callback(done, next_chunk(self.body.clone(), self.closers()));
    }

    /// Drop the connection; a read pending on another thread or task ends with `None`.
    fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut guard) = self.body.try_lock() {
            guard.take();
        }
    }
}
