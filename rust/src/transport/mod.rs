//! The HTTP transport under kcore's clients: pooled HTTP/1.1 and HTTP/2 connections over
//! rustls, client-side rate limiting and client-go's retries, on a tokio runtime. Requests and
//! streams wait with the GIL released; asyncio callers get their answer through a callback.
use pyo3::prelude::*;

mod client;
mod list;
mod metrics;
mod rate_limiter;
mod retry;
mod runtime;
mod stream;
mod tls;
mod websocket;

pyo3::create_exception!(
    _core,
    TransportFailure,
    pyo3::exceptions::PyException,
    "The request did not get an HTTP answer (connection, TLS, timeout or protocol failure)."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::Transport>()?;
    m.add_class::<client::Response>()?;
    m.add_class::<list::DecodedResponse>()?;
    m.add_class::<stream::ResponseStream>()?;
    m.add_class::<websocket::WebSocket>()?;
    m.add("TransportFailure", m.py().get_type::<TransportFailure>())?;
    m.add_function(wrap_pyfunction!(metrics::rest_client_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::rest_client_latency_buckets, m)?)?;
    Ok(())
}
