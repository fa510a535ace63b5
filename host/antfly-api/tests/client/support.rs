//! Helpers shared by the client tests: a client of a double, raw HTTP, and waiting without asserting speed.

use std::net::SocketAddr;
use std::time::Duration;

use antfly_api::Client;
use antfly_double::AntflyDouble;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A generous bound: the tests never assert speed, only that calls end.
pub const GENEROUS: Duration = Duration::from_secs(10);

/// The restore delay the tests give the double, to keep the suite short.
pub const RESTORE_DELAY: Duration = Duration::from_millis(200);

/// A double with a short restore delay.
pub async fn double() -> AntflyDouble {
    let double = AntflyDouble::start().await;
    double.restore_ready_after(RESTORE_DELAY);
    double
}

/// A client of the double with a generous timeout.
pub fn client(double: &AntflyDouble) -> Client {
    Client::new(double.base_url()).unwrap_or_else(|e| panic!("{e}")).with_timeout(GENEROUS)
}

/// A few documents keyed `k0`, `k1`, …
pub fn docs(count: usize) -> Vec<(String, Value)> {
    (0..count).map(|i| (format!("k{i}"), json!({ "n": i }))).collect()
}

/// How many requests of `method` to a path starting with `prefix` the double received.
pub fn count(double: &AntflyDouble, method: &str, prefix: &str) -> usize {
    double.requests().iter().filter(|r| r.is(method, prefix)).count()
}

/// One raw HTTP/1.1 exchange, for the calls the client never makes: status, content type and body.
pub async fn raw(address: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: double\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&answer).into_owned()
    };
    let answer =
        tokio::time::timeout(GENEROUS, exchange).await.unwrap_or_else(|_| panic!("no answer to {method} {path}"));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// Waits until `condition` holds, for at most [`GENEROUS`]; whether it did.
pub async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + GENEROUS;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}
