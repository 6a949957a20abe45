//! The one tokio runtime every transport shares: a couple of I/O threads, never the GIL.
use std::sync::OnceLock;
use tokio::runtime::{Builder, Runtime};

pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kcore-io")
            .enable_all()
            .build()
            .expect("kcore: cannot start the tokio runtime")
    })
}
