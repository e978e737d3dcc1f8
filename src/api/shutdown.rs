//! Graceful shutdown: on SIGTERM or SIGINT stop accepting jobs (/ready 503, new jobs 503), let the
//! backend finish what it holds (bounded by --shutdown-timeout), then stop the HTTP server. A second
//! signal stops at once.

use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;

use super::AppState;

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Wait until the backend holds no job or `timeout` passes; returns whether it emptied.
pub async fn drain(state: &AppState, timeout: Duration) -> bool {
    state.start_draining();
    let deadline = Instant::now() + timeout;
    loop {
        let left = state.backend.in_flight();
        if left == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            tracing::warn!("shutdown: {left} job(s) still running after {timeout:?}; stopping anyway");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn on_signal(state: AppState, handle: ServerHandle, timeout: Duration) {
    signal().await;
    tracing::info!(
        "shutdown: draining ({} job(s) in flight, up to {timeout:?})",
        state.backend.in_flight()
    );
    let stop_now = handle.clone();
    let second = tokio::spawn(async move {
        signal().await;
        tracing::warn!("second signal: stopping now");
        stop_now.stop(false).await;
    });
    drain(&state, timeout).await;
    tracing::info!("shutdown: stopping the HTTP server");
    handle.stop(true).await;
    second.abort();
}
