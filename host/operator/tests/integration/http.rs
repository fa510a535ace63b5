//! The operator's `/healthz`, `/readyz` and `/metrics` endpoints over real HTTP.

use std::sync::Arc;

use antfly_operator::controller::http::{Health, serve};
use antfly_operator::controller::metrics::{CategoryLabel, Metrics, PluginFailureLabel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).await.expect("writes");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("reads");
    response
}

#[tokio::test]
async fn health_readiness_and_metrics_are_served() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    let metrics = Arc::new(Metrics::default());
    metrics.errors.get_or_create(&CategoryLabel { category: "invalid_spec" }).inc();
    let failure = PluginFailureLabel {
        world: "scheduling-provider",
        plugin: "eks".into(),
        function: "contribute",
        reason: "Timeout",
    };
    metrics.plugin_failures.get_or_create(&failure).inc();
    metrics.duration.observe(0.02);
    let health = Arc::new(Health::default());
    tokio::spawn(serve(listener, metrics, health.clone()));

    // Live at once, ready only once the plugins are loaded.
    let loading = get(addr, "/readyz").await;
    assert!(loading.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{loading}");
    assert!(loading.ends_with("\r\n\r\nloading plugins\n"), "{loading}");
    health.set_plugins_loaded();
    for path in ["/healthz", "/readyz"] {
        let response = get(addr, path).await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nok\n"));
    }
    let response = get(addr, "/metrics").await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(response.contains("antfly_operator_reconcile_errors_total{category=\"invalid_spec\"} 1"), "{response}");
    assert!(
        response.contains(
            "antfly_operator_plugin_failures_total{world=\"scheduling-provider\",plugin=\"eks\",\
             function=\"contribute\",reason=\"Timeout\"} 1"
        ),
        "{response}"
    );
    assert!(response.contains("antfly_operator_reconcile_duration_seconds_count 1"), "{response}");
    assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));

    // A refused plugin set leaves the operator ready, and says why in /readyz.
    *health.plugin_reload_error.lock().expect("lock") = Some("sha256 mismatch".into());
    let response = get(addr, "/readyz").await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("plugins: the plugin directory failed to load") && response.contains("sha256 mismatch"));
}
