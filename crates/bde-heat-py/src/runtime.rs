//! One tokio runtime per process, shared by every step of every resource.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bde-heat")
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// Runs `work` to its end, or for `seconds` at most (`None` then). Cutting a
/// step short is safe: every step looks before it makes anything, so the next
/// one adopts whatever the cut one had made.
pub fn block_on_bounded<F: Future>(seconds: f64, work: F) -> Option<F::Output> {
    let bound = Duration::from_secs_f64(seconds.clamp(1.0, 3600.0));
    runtime().block_on(async { tokio::time::timeout(bound, work).await.ok() })
}
