//! `Transport`: one connection pool to one API server, shared by every thread and event loop.
use super::metrics;
use super::rate_limiter::TokenBucket;
use super::retry::{retry_after, retry_transport_error};
use super::runtime::runtime;
use super::stream::ResponseStream;
use super::tls::{client_config, TlsOptions};
use super::websocket::{handshake_key, WebSocket};
use super::TransportFailure;
use crate::codec::list::Decoding;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING};
use reqwest::Method;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A complete answer: status, headers (in order, repeated names kept), the whole body and the
/// HTTP version it came over.
#[pyclass(frozen, module = "kcore._core")]
pub struct Response {
    #[pyo3(get)]
    status: u16,
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    #[pyo3(get)]
    body: Py<PyBytes>,
    #[pyo3(get)]
    http_version: String,
}

/// What arrived before the body, shared by `Response` and `ResponseStream`.
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// As the `http` crate writes it: "HTTP/1.1", "HTTP/2.0".
    pub http_version: String,
}

impl Head {
    pub fn of(response: &reqwest::Response) -> Self {
        Head {
            status: response.status().as_u16(),
            headers: header_pairs(response.headers()),
            http_version: format!("{:?}", response.version()),
        }
    }
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// What a request needs once the GIL is gone.
pub struct Call {
    pub(super) method: Method,
    pub(super) url: String,
    headers: HeaderMap,
    body: Option<bytes::Bytes>,
    timeout: Option<Duration>,
    rate_limited: bool,
    /// Sent on the HTTP/1.1-only pool, for a WebSocket upgrade.
    upgrade: bool,
}

pub(super) struct Shared {
    client: reqwest::Client,
    /// HTTP/1.1 only, for WebSocket upgrades (kube-apiserver takes none over HTTP/2); the same
    /// client as `client` when HTTP/2 is off.
    upgrade_client: reqwest::Client,
    limiter: Option<TokenBucket>,
    max_retries: u32,
    /// The server's host[:port], as written: the metrics' `host` label (Go's url.Host).
    host: Arc<str>,
    /// Set by `close_streams`: every stream of this transport ends.
    pub(super) closed: tokio::sync::watch::Sender<bool>,
}

#[pyclass(frozen, module = "kcore._core")]
pub struct Transport {
    shared: Arc<Shared>,
    base: String,
}

fn failure(message: impl Into<String>) -> PyErr {
    TransportFailure::new_err(message.into())
}

/// reqwest's error with its causes, which say what really failed (refused, reset, TLS...).
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn seconds(value: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{what} must be a positive number of seconds, got {s}"
        ))),
    }
}

impl Shared {
    /// Send `call`, waiting for the rate limiter and retrying as client-go does.
    pub(super) async fn send(&self, call: &Call) -> Result<reqwest::Response, String> {
        if call.rate_limited {
            self.throttle(&call.method).await;
        }
        let mut attempt = 0;
        loop {
            let client = if call.upgrade {
                &self.upgrade_client
            } else {
                &self.client
            };
            let mut request = client
                .request(call.method.clone(), &call.url)
                .headers(call.headers.clone());
            if let Some(body) = &call.body {
                request = request.body(body.clone());
            }
            if let Some(timeout) = call.timeout {
                request = request.timeout(timeout);
            }
            let sent = request.send().await;
            metrics::attempt(
                sent.as_ref().ok().map(|r| r.status().as_u16()),
                &call.method,
                &self.host,
                attempt > 0,
            );
            let wait = match sent {
                Ok(response) => match retry_after(response.status(), response.headers()) {
                    Some(wait) if attempt < self.max_retries => wait,
                    _ => return Ok(response),
                },
                Err(error) => match retry_transport_error(&call.method, &error) {
                    Some(wait) if attempt < self.max_retries => wait,
                    _ => return Err(format!("{} {}: {}", call.method, call.url, describe(&error))),
                },
            };
            attempt += 1;
            tokio::time::sleep(wait).await;
            // Retries are paced by the limiter too, as in client-go.
            self.throttle(&call.method).await;
        }
    }

    async fn throttle(&self, method: &Method) {
        if let Some(limiter) = &self.limiter {
            let start = Instant::now();
            limiter.acquire().await;
            metrics::rate_limiter_waited(method, &self.host, start.elapsed());
        }
    }

    /// A whole request, from the first wait for the limiter to the end of the body, for the
    /// request duration metric.
    pub(super) fn took(&self, call: &Call, start: Instant) {
        metrics::request_took(&call.method, &self.host, start.elapsed());
    }

    async fn fetch(&self, call: Call) -> Result<(Head, bytes::Bytes), String> {
        let start = Instant::now();
        let answer = async {
            let response = self.send(&call).await?;
            let head = Head::of(&response);
            let body = response
                .bytes()
                .await
                .map_err(|e| format!("{} {}: reading the body: {}", call.method, call.url, describe(&e)))?;
            Ok((head, body))
        }
        .await;
        self.took(&call, start);
        answer
    }
}

/// Why a request failed: no answer (a message, raised as TransportFailure), or a Python
/// error (the DecodeError of a body decoded as it arrived).
pub enum Failed {
    Transport(String),
    Python(PyErr),
}

impl From<String> for Failed {
    fn from(message: String) -> Self {
        Failed::Transport(message)
    }
}

impl From<Failed> for PyErr {
    fn from(f: Failed) -> Self {
        match f {
            Failed::Transport(message) => failure(message),
            Failed::Python(e) => e,
        }
    }
}

/// Run `work` on the runtime and hand its outcome to `done(ok, value)` from an I/O thread.
/// The asyncio side passes a `done` that hops back onto its event loop.
pub fn spawn_with_callback<F, T, E>(done: Py<PyAny>, work: F)
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    T: for<'py> IntoPyObjectConverter<'py>,
    E: Into<Failed> + Send + 'static,
{
    runtime().spawn(async move {
        let outcome = work.await.map_err(Into::into);
        Python::attach(|py| {
            let delivered =
                match outcome.and_then(|value| value.convert(py).map_err(|e| Failed::Transport(e.to_string()))) {
                    Ok(value) => done.call1(py, (true, value)),
                    Err(failed) => done.call1(py, (false, PyErr::from(failed).into_value(py))),
                };
            if let Err(error) = delivered {
                // The event loop may be closed already; nobody is waiting for this answer.
                error.write_unraisable(py, None);
            }
        });
    });
}

/// How a finished piece of I/O becomes a Python object (with the GIL held).
pub trait IntoPyObjectConverter<'py> {
    fn convert(self, py: Python<'py>) -> PyResult<Py<PyAny>>;
}

impl<'py> IntoPyObjectConverter<'py> for (Head, bytes::Bytes) {
    fn convert(self, py: Python<'py>) -> PyResult<Py<PyAny>> {
        let (
            Head {
                status,
                headers,
                http_version,
            },
            body,
        ) = self;
        let body = PyBytes::new(py, &body).unbind();
        Ok(Py::new(
            py,
            Response {
                status,
                headers,
                body,
                http_version,
            },
        )?
        .into_any())
    }
}

impl Transport {
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        timeout: Option<f64>,
        rate_limited: bool,
    ) -> PyResult<Call> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| pyo3::exceptions::PyValueError::new_err(format!("not an HTTP method: {method:?}")))?;
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| pyo3::exceptions::PyValueError::new_err(format!("not an HTTP header name: {name:?}")))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| pyo3::exceptions::PyValueError::new_err(format!("header {name}: value is not valid")))?;
            map.append(name, value);
        }
        Ok(Call {
            method,
            url: format!("{}{}", self.base, path),
            headers: map,
            body: body.map(bytes::Bytes::from),
            timeout: seconds(timeout, "timeout")?,
            rate_limited,
            upgrade: false,
        })
    }
}

/// The host[:port] of a server URL as written (userinfo left out), as Go's url.Host keeps it.
fn host_of(server: &str) -> &str {
    let authority = server.split_once("://").map_or(server, |(_, rest)| rest);
    let authority = authority.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit_once('@').map_or(authority, |(_, host)| host)
}

/// Seconds from the environment variable `name` (client-go reads the same ones), else `default`.
fn env_seconds(name: &str, default: u64) -> Duration {
    let seconds = std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(default);
    Duration::from_secs(seconds)
}

/// client-go's HTTP2_READ_IDLE_TIMEOUT_SECONDS (30 s; 0 turns the health check off).
fn http2_read_idle_timeout() -> Option<Duration> {
    Some(env_seconds("HTTP2_READ_IDLE_TIMEOUT_SECONDS", 30)).filter(|d| !d.is_zero())
}

/// A stream asks for no compression: kube-apiserver gzips a watch as one gzip member per flush,
/// and reqwest's decoder ends at the first member ("error decoding response body"), which broke
/// every watch after its first batch of events. (Go's gzip reader, under client-go, reads
/// concatenated members.)
fn uncompressed(mut call: Call) -> Call {
    if !call.headers.contains_key(ACCEPT_ENCODING) {
        call.headers
            .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
    call
}

#[pymethods]
impl Transport {
    #[new]
    #[pyo3(signature = (server, *, ca_pem=None, client_cert_pem=None, client_key_pem=None, insecure=false,
        tls_server_name=None, proxy_url=None, connect_timeout=30.0, qps=5.0, burst=10, max_retries=10,
        http2=true, user_agent=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        server: &str,
        ca_pem: Option<Vec<u8>>,
        client_cert_pem: Option<Vec<u8>>,
        client_key_pem: Option<Vec<u8>>,
        insecure: bool,
        tls_server_name: Option<String>,
        proxy_url: Option<&str>,
        connect_timeout: f64,
        qps: f64,
        burst: u32,
        max_retries: u32,
        http2: bool,
        user_agent: Option<&str>,
    ) -> PyResult<Self> {
        let invalid = |m: String| pyo3::exceptions::PyValueError::new_err(m);
        let url = reqwest::Url::parse(server).map_err(|e| invalid(format!("server {server:?}: {e}")))?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(invalid(format!("server {server:?}: the scheme must be https or http")));
        }
        let connect_timeout = seconds(Some(connect_timeout), "connect_timeout")?.unwrap_or(Duration::from_secs(30));
        let build = |http2: bool| -> PyResult<reqwest::Client> {
            let tls = client_config(&TlsOptions {
                ca_pem: ca_pem.clone(),
                client_cert_pem: client_cert_pem.clone(),
                client_key_pem: client_key_pem.clone(),
                insecure,
                server_name: tls_server_name.clone(),
                http2,
            })
            .map_err(invalid)?;
            let mut builder = reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .connect_timeout(connect_timeout)
                .tcp_keepalive(Duration::from_secs(30))
                .pool_idle_timeout(Duration::from_secs(90))
                .gzip(true);
            builder = match proxy_url {
                Some(proxy) => {
                    builder.proxy(reqwest::Proxy::all(proxy).map_err(|e| invalid(format!("proxy-url {proxy:?}: {e}")))?)
                }
                None => builder.no_proxy(),
            };
            if let Some(agent) = user_agent {
                builder = builder.user_agent(agent);
            }
            if !http2 {
                builder = builder.http1_only();
            }
            if let Some(idle) = http2_read_idle_timeout() {
                // client-go's HTTP/2 health check: a ping once nothing has been read for `idle`, and
                // the connection dropped if the answer takes longer than the ping timeout, so a
                // silently dead connection (no FIN, no RST) fails its watches instead of hanging them.
                builder = builder
                    .http2_keep_alive_interval(idle)
                    .http2_keep_alive_timeout(env_seconds("HTTP2_PING_TIMEOUT_SECONDS", 15))
                    .http2_keep_alive_while_idle(true);
            }
            // Building the client starts nothing; it must run inside the runtime for hyper's timers.
            let _guard = runtime().enter();
            builder.build().map_err(|e| invalid(describe(&e)))
        };
        let client = build(http2)?;
        let upgrade_client = if http2 { build(false)? } else { client.clone() };
        Ok(Transport {
            shared: Arc::new(Shared {
                client,
                upgrade_client,
                limiter: TokenBucket::new(qps, burst),
                max_retries,
                host: host_of(server).into(),
                closed: tokio::sync::watch::channel(false).0,
            }),
            base: server.trim_end_matches('/').to_owned(),
        })
    }

    /// Send a request and read the whole answer, with the GIL released throughout.
    #[pyo3(signature = (method, path, headers, body=None, *, timeout=None, rate_limited=true))]
    #[allow(clippy::too_many_arguments)] // the Python method's arguments, one each
    fn request(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        timeout: Option<f64>,
        rate_limited: bool,
    ) -> PyResult<Py<PyAny>> {
        let call = self.call(method, path, headers, body, timeout, rate_limited)?;
        let shared = self.shared.clone();
        let outcome = py.detach(move || runtime().block_on(shared.fetch(call)));
        outcome.map_err(failure)?.convert(py)
    }

    /// The same, for asyncio: returns at once; later `done(True, Response)` or `done(False, exc)`
    /// is called from an I/O thread.
    #[pyo3(signature = (done, method, path, headers, body=None, *, timeout=None, rate_limited=true))]
    #[allow(clippy::too_many_arguments)]
    fn request_async(
        &self,
        done: Py<PyAny>,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        timeout: Option<f64>,
        rate_limited: bool,
    ) -> PyResult<()> {
        let call = self.call(method, path, headers, body, timeout, rate_limited)?;
        let shared = self.shared.clone();
        spawn_with_callback(done, async move { shared.fetch(call).await });
        Ok(())
    }

    /// As `request`, but a 2xx answer in JSON or protobuf comes back decoded, a list's items
    /// while its body arrives (`DecodedResponse`; None for an empty body); any other answer
    /// as `request` gives it. `compact`: decoded as `decode_compact` does (`strip_managed_fields`
    /// too).
    #[pyo3(signature = (method, path, headers, body=None, *, compact=false, strip_managed_fields=false, timeout=None, rate_limited=true))]
    #[allow(clippy::too_many_arguments)]
    fn request_decoded(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        compact: bool,
        strip_managed_fields: bool,
        timeout: Option<f64>,
        rate_limited: bool,
    ) -> PyResult<Py<PyAny>> {
        let call = self.call(method, path, headers, body, timeout, rate_limited)?;
        let shared = self.shared.clone();
        let outcome = py.detach(move || {
            super::list::fetch_decoded(
                &shared,
                call,
                Decoding {
                    compact,
                    strip_managed_fields,
                },
            )
        });
        outcome?.convert(py)
    }

    /// The asyncio twin of `request_decoded`: later `done(True, DecodedResponse | Response)` or
    /// `done(False, exc)` (TransportFailure, or the body's DecodeError).
    #[pyo3(signature = (done, method, path, headers, body=None, *, compact=false, strip_managed_fields=false, timeout=None, rate_limited=true))]
    #[allow(clippy::too_many_arguments)]
    fn request_decoded_async(
        &self,
        done: Py<PyAny>,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        compact: bool,
        strip_managed_fields: bool,
        timeout: Option<f64>,
        rate_limited: bool,
    ) -> PyResult<()> {
        let call = self.call(method, path, headers, body, timeout, rate_limited)?;
        let shared = self.shared.clone();
        spawn_with_callback(done, async move {
            super::list::fetch_decoded_async(
                shared,
                call,
                Decoding {
                    compact,
                    strip_managed_fields,
                },
            )
            .await
        });
        Ok(())
    }

    /// Send a request and return once the headers are in; the body is read chunk by chunk.
    #[pyo3(signature = (method, path, headers, body=None, *, rate_limited=true))]
    fn stream(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        rate_limited: bool,
    ) -> PyResult<ResponseStream> {
        let call = uncompressed(self.call(method, path, headers, body, None, rate_limited)?);
        let shared = self.shared.clone();
        let closed = self.shared.closed.subscribe();
        let response = py.detach(move || runtime().block_on(async move { shared.send(&call).await }));
        Ok(ResponseStream::new(response.map_err(failure)?, closed))
    }

    /// End every stream this transport opened (a pending read ends as at the end of the body),
    /// as client-go closes its connections when its client certificate rotates: a watch then
    /// starts again on a transport with the new certificate.
    fn close_streams(&self) {
        self.shared.closed.send_replace(true);
    }

    /// The asyncio twin of `stream`: `done(True, ResponseStream)` once the headers are in.
    #[pyo3(signature = (done, method, path, headers, body=None, *, rate_limited=true))]
    fn stream_async(
        &self,
        done: Py<PyAny>,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        rate_limited: bool,
    ) -> PyResult<()> {
        let call = uncompressed(self.call(method, path, headers, body, None, rate_limited)?);
        let shared = self.shared.clone();
        let closed = self.shared.closed.subscribe();
        spawn_with_callback(done, async move {
            shared.send(&call).await.map(|r| ResponseStream::new(r, closed))
        });
        Ok(())
    }

    /// Open a WebSocket (GET `path`, offering `protocols` in order of preference), with the
    /// GIL released: a `WebSocket`, or the `Response` of a server that refused the upgrade.
    #[pyo3(signature = (path, headers, protocols, *, rate_limited=true))]
    fn websocket(
        &self,
        py: Python<'_>,
        path: &str,
        headers: Vec<(String, String)>,
        protocols: Vec<String>,
        rate_limited: bool,
    ) -> PyResult<Py<PyAny>> {
        let call = self.call("GET", path, headers, None, None, rate_limited)?;
        let shared = self.shared.clone();
        let outcome = py.detach(move || runtime().block_on(async move { shared.upgrade(call, protocols).await }));
        outcome.map_err(failure)?.convert(py)
    }

    /// The asyncio twin of `websocket`: `done(True, WebSocket | Response)` or `done(False, exc)`.
    #[pyo3(signature = (done, path, headers, protocols, *, rate_limited=true))]
    fn websocket_async(
        &self,
        done: Py<PyAny>,
        path: &str,
        headers: Vec<(String, String)>,
        protocols: Vec<String>,
        rate_limited: bool,
    ) -> PyResult<()> {
        let call = self.call("GET", path, headers, None, None, rate_limited)?;
        let shared = self.shared.clone();
        spawn_with_callback(done, async move { shared.upgrade(call, protocols).await });
        Ok(())
    }
}

/// The answer to a WebSocket upgrade: the open socket, or the server's refusal as a whole
/// `Response` (a Status to raise, e.g. the pod or container not found).
enum Upgrade {
    Open(WebSocket),
    Refused(Head, bytes::Bytes),
}

impl<'py> IntoPyObjectConverter<'py> for Upgrade {
    fn convert(self, py: Python<'py>) -> PyResult<Py<PyAny>> {
        match self {
            Upgrade::Open(socket) => Ok(Py::new(py, socket)?.into_any()),
            Upgrade::Refused(head, body) => (head, body).convert(py),
        }
    }
}

impl Shared {
    /// Ask for a WebSocket with one of `protocols`; a 101 must carry the accept value for our
    /// key and a protocol we offered (or none, which leaves the choice to the caller).
    async fn upgrade(&self, mut call: Call, protocols: Vec<String>) -> Result<Upgrade, String> {
        let (key, accept) = handshake_key();
        let pairs = [
            ("connection", "Upgrade".to_owned()),
            ("upgrade", "websocket".to_owned()),
            ("sec-websocket-version", "13".to_owned()),
            ("sec-websocket-key", key),
            ("sec-websocket-protocol", protocols.join(", ")),
        ];
        for (name, value) in pairs {
            let value = HeaderValue::from_str(&value).map_err(|_| format!("header {name}: value is not valid"))?;
            call.headers.insert(name, value);
        }
        call.upgrade = true;
        let response = self.send(&call).await?;
        let head = Head::of(&response);
        if head.status != 101 {
            let body = response
                .bytes()
                .await
                .map_err(|e| format!("{} {}: reading the body: {}", call.method, call.url, describe(&e)))?;
            return Ok(Upgrade::Refused(head, body));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        if header("sec-websocket-accept") != accept {
            return Err(format!(
                "{} {}: the server's Sec-WebSocket-Accept does not match the key sent",
                call.method, call.url
            ));
        }
        let protocol = header("sec-websocket-protocol");
        if !protocol.is_empty() && !protocols.contains(&protocol) {
            return Err(format!(
                "{} {}: the server chose subprotocol {protocol:?}, which was not offered",
                call.method, call.url
            ));
        }
        let upgraded = response
            .upgrade()
            .await
            .map_err(|e| format!("{} {}: upgrading: {}", call.method, call.url, describe(&e)))?;
        Ok(Upgrade::Open(WebSocket::start(
            upgraded,
            protocol,
            head.headers,
            self.closed.subscribe(),
        )))
    }
}

impl<'py> IntoPyObjectConverter<'py> for ResponseStream {
    fn convert(self, py: Python<'py>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, self)?.into_any())
    }
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_host_label_is_host_and_port_as_written_without_userinfo() {
        assert_eq!(host_of("https://127.0.0.1:6443"), "127.0.0.1:6443");
        assert_eq!(host_of("https://kube.example.com/prefix/"), "kube.example.com");
        assert_eq!(host_of("https://user:pw@[::1]:443?x"), "[::1]:443");
    }
}
