//! `/healthz`, `/readyz` and `/metrics` over a minimal HTTP/1.1 server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::warn;

use super::metrics::Metrics;

/// What `/readyz` reports besides readiness: problems the operator works around.
#[derive(Debug, Default)]
pub struct Health {
    /// Why the plugin directory's current content is not in use, if it is not.
    pub plugin_reload_error: Mutex<Option<String>>,
    /// Whether the plugins are loaded (compiled, or read from the cache): ready only then.
    pub plugins_loaded: AtomicBool,
}

impl Health {
    /// Marks the plugins loaded: `/readyz` answers 200 from now on.
    pub fn set_plugins_loaded(&self) {
        self.plugins_loaded.store(true, Ordering::Release);
    }

    /// The `/readyz` status and body. Every replica is ready once its plugins are loaded
    /// (followers stand by), also while a bad plugin set is refused: the previous set serves.
    fn readyz(&self) -> (&'static str, String) {
        if !self.plugins_loaded.load(Ordering::Acquire) {
            return ("503 Service Unavailable", "loading plugins\n".to_string());
        }
        let body = match self.plugin_reload_error.lock().unwrap_or_else(PoisonError::into_inner).as_deref() {
            None => "ok\n".to_string(),
            Some(error) => {
                format!("ok\nplugins: the plugin directory failed to load, the previous set serves: {error}\n")
            }
        };
        ("200 OK", body)
    }
}

/// Serve until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, health: Arc<Health>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let metrics = metrics.clone();
        let health = health.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut read = 0;
            while read < buf.len() {
                match stream.read(&mut buf[read..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
                if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let request = String::from_utf8_lossy(&buf[..read]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let (status, content_type, body) = match path {
                "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
                "/readyz" => {
                    let (status, body) = health.readyz();
                    (status, "text/plain", body)
                }
                "/metrics" => {
                    ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", metrics.encode())
                }
                _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            if let Err(err) = stream.write_all(response.as_bytes()).await {
                warn!(error = %err, "failed to write HTTP response");
            }
        });
    }
}
