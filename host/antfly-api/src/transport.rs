//! One HTTP exchange, bounded in time and size, and the retry loop around it.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::ApiError;
use crate::error::server_message;

/// The largest answer body read, in bytes: a hostile or broken peer cannot exhaust memory.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The pause before the first retry; it doubles before each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Which failures of an attempt are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// One attempt only: the call is not safe to repeat (a backup id re-used overwrites; a
    /// restore triggered twice races itself).
    Never,
    /// A safe call (GET, or an idempotent PUT or DELETE): transport failures, timeouts, 429 and 5xx.
    Safe,
    /// A probe whose 500 answers carry meaning: transport failures, timeouts, 429, 502, 503 and 504.
    Probe,
}

impl Retry {
    fn again(self, outcome: &Result<Answer, ApiError>) -> bool {
        let status = match outcome {
            Ok(answer) => answer.status.as_u16(),
            Err(error) => {
                return self != Self::Never && matches!(error, ApiError::Transport { .. } | ApiError::Timeout { .. });
            }
        };
        match self {
            Self::Never => false,
            Self::Safe => status == 429 || (500..600).contains(&status),
            Self::Probe => matches!(status, 429 | 502 | 503 | 504),
        }
    }
}

/// A whole answer: status, content type and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub method: Method,
    pub path: String,
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Answer {
    /// The answer itself when `accept` takes its status; otherwise [`ApiError::Status`] with
    /// the server's message.
    pub fn accept(self, accept: impl Fn(StatusCode) -> bool) -> Result<Self, ApiError> {
        if accept(self.status) { Ok(self) } else { Err(self.into_status_error()) }
    }

    pub fn into_status_error(self) -> ApiError {
        ApiError::Status {
            message: server_message(&self.body),
            status: self.status.as_u16(),
            method: self.method,
            path: self.path,
        }
    }

    /// Whether the answer is JSON. `application/json` and `…+json` are; so are a missing
    /// content type and `text/plain` when the body opens like JSON, which is what Go's content
    /// sniffing labels a JSON body written without a header. Anything else, such as the HTML
    /// page served for unknown paths, is not.
    pub fn is_json(&self) -> bool {
        let essence = self
            .content_type
            .as_deref()
            .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/json") => true,
            Some(other) if other.ends_with("+json") => true,
            None | Some("text/plain") => {
                matches!(self.body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
            }
            Some(_) => false,
        }
    }

    /// Decodes a JSON body, after checking that it is one.
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, ApiError> {
        if !self.is_json() {
            return Err(ApiError::NotJson {
                status: self.status.as_u16(),
                content_type: self.content_type.unwrap_or_default(),
                method: self.method,
                path: self.path,
            });
        }
        serde_json::from_slice(&self.body).map_err(|source| ApiError::Decode {
            method: self.method,
            path: self.path,
            source,
        })
    }
}

/// The HTTP/1.1 connection pool shared by the clones of one [`crate::Client`].
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    pub max_attempts: u32,
}

impl Transport {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        // Plain http only: the base URL check refuses https, and the connector agrees.
        connector.enforce_http(true);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self { http, max_attempts: 3 }
    }

    /// Sends a request, tries it again as `retry` allows, and returns the last outcome. Each
    /// attempt is bounded by `timeout`.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        path: &str,
        body: Option<Bytes>,
        retry: Retry,
        timeout: Duration,
    ) -> Result<Answer, ApiError> {
        let attempts = if retry == Retry::Never { 1 } else { self.max_attempts.max(1) };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let outcome = self.attempt(&method, url, path, body.clone(), timeout).await;
            if attempt >= attempts || !retry.again(&outcome) {
                return outcome;
            }
            tracing::debug!(%method, path, attempt, outcome = ?outcome.as_ref().map(|a| a.status), "retrying Antfly API call");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        path: &str,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Answer, ApiError> {
        let transport = |source: Box<dyn std::error::Error + Send + Sync>| ApiError::Transport {
            method: method.clone(),
            path: path.to_owned(),
            source,
        };
        let mut builder =
            Request::builder().method(method.clone()).uri(url).header(ACCEPT, "application/json, text/plain;q=0.5");
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| ApiError::InvalidUrl { url: url.to_owned(), reason: e.to_string() })?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| transport(Box::new(e)))?;
            let (parts, body) = response.into_parts();
            let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
                return Err(ApiError::BodyTooLarge {
                    method: method.clone(),
                    path: path.to_owned(),
                    limit: MAX_BODY_BYTES,
                });
            }
            let body = Limited::new(body, MAX_BODY_BYTES).collect().await.map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    ApiError::BodyTooLarge { method: method.clone(), path: path.to_owned(), limit: MAX_BODY_BYTES }
                } else {
                    transport(e)
                }
            })?;
            let content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            Ok(Answer {
                method: method.clone(),
                path: path.to_owned(),
                status: parts.status,
                content_type,
                body: body.to_bytes(),
            })
        };
        tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_elapsed| {
            Err(ApiError::Timeout { method: method.clone(), path: path.to_owned(), after: timeout })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_type: Option<&str>, body: &'static [u8]) -> Answer {
        Answer {
            method: Method::GET,
            path: "/p".into(),
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            content_type: content_type.map(str::to_owned),
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn json_content_types_are_json_html_is_not() {
        assert!(answer(200, Some("application/json"), b"{}").is_json());
        assert!(answer(200, Some("Application/JSON; charset=utf-8"), b"{}").is_json());
        assert!(answer(200, Some("application/problem+json"), b"{}").is_json());
        assert!(!answer(200, Some("text/html; charset=utf-8"), b"{}").is_json());
    }

    #[test]
    fn a_sniffed_text_plain_body_is_json_only_when_it_opens_like_json() {
        assert!(answer(200, Some("text/plain; charset=utf-8"), b" {\"a\":1}").is_json());
        assert!(answer(200, None, b"[1]").is_json());
        assert!(!answer(200, Some("text/plain"), b"accepted").is_json());
        assert!(!answer(200, None, b"<html>").is_json());
    }

    #[test]
    fn decoding_html_names_the_content_type() {
        match answer(200, Some("text/html"), b"<!doctype html>").json::<serde_json::Value>() {
            Err(ApiError::NotJson { content_type, status: 200, .. }) => assert_eq!(content_type, "text/html"),
            other => panic!("{other:?}"),
        }
    }

    fn outcome(status: u16) -> Result<Answer, ApiError> {
        Ok(answer(status, None, b""))
    }

    #[test]
    fn safe_calls_retry_server_errors_probes_only_gateway_errors_and_unsafe_calls_never() {
        assert!(Retry::Safe.again(&outcome(500)));
        assert!(Retry::Safe.again(&outcome(503)));
        assert!(!Retry::Safe.again(&outcome(200)));
        assert!(!Retry::Safe.again(&outcome(404)));
        assert!(!Retry::Probe.again(&outcome(500)));
        assert!(Retry::Probe.again(&outcome(503)));
        assert!(!Retry::Never.again(&outcome(503)));
        let timeout = Err(ApiError::Timeout { method: Method::GET, path: "/p".into(), after: Duration::ZERO });
        assert!(Retry::Safe.again(&timeout));
        assert!(Retry::Probe.again(&timeout));
        assert!(!Retry::Never.again(&timeout));
        let not_json = Err(ApiError::NotJson {
            method: Method::GET,
            path: "/p".into(),
            status: 200,
            content_type: "text/html".into(),
        });
        assert!(!Retry::Safe.again(&not_json));
    }
}
