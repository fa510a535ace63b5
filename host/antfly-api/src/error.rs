//! The one error type of the client: every variant names the call (method and path) that failed.

use std::time::Duration;

use http::Method;

/// The longest server message kept in [`ApiError::Status`], in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Why a call to the Antfly HTTP API failed.
///
/// Every variant but [`ApiError::InvalidUrl`] carries the method and the path (with its query)
/// of the call, so a log line or a status condition says which call failed without context.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The base URL, or a path segment built into the URL, is not usable.
    #[error("invalid Antfly API URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, or the piece of it, that was refused.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection could not be made, or broke before a whole answer arrived.
    #[error("failed to call {method} {path}: transport error")]
    Transport {
        method: Method,
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No whole answer arrived within the time the call was given.
    #[error("failed to call {method} {path}: no answer within {after:?}")]
    Timeout { method: Method, path: String, after: Duration },
    /// The server answered with a status the call does not accept.
    #[error("failed to call {method} {path}: server answered {status}: {message}")]
    Status {
        method: Method,
        path: String,
        /// The HTTP status code.
        status: u16,
        /// The server's JSON `error` field, or its text body: bounded and without control characters.
        message: String,
    },
    /// A JSON answer was expected and something else came, such as the HTML page the server
    /// serves with 200 for any path it has no API for.
    #[error(
        "failed to call {method} {path}: expected JSON, server answered {status} with content type {content_type:?}"
    )]
    NotJson { method: Method, path: String, status: u16, content_type: String },
    /// The answer was JSON but not of the expected shape.
    #[error("failed to decode the answer to {method} {path}")]
    Decode {
        method: Method,
        path: String,
        #[source]
        source: serde_json::Error,
    },
    /// The answer's body was larger than the client accepts.
    #[error("failed to call {method} {path}: answer larger than {limit} bytes")]
    BodyTooLarge { method: Method, path: String, limit: usize },
}

impl ApiError {
    /// Whether trying the same call again later may succeed: transport failures, timeouts,
    /// 429 and 5xx answers. A refusal (4xx), a wrong content type or an undecodable answer
    /// will not change by retrying.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => *status == 429 || (500..600).contains(status),
            Self::InvalidUrl { .. } | Self::NotJson { .. } | Self::Decode { .. } | Self::BodyTooLarge { .. } => false,
        }
    }

    /// The HTTP status the server answered with, for [`ApiError::Status`] and [`ApiError::NotJson`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::NotJson { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's message, for [`ApiError::Status`].
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Self::Status { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// The message of an error answer: the `error` field of a JSON object when there is one,
/// otherwise the body as text; control characters replaced by spaces, trimmed, and cut to
/// [`MAX_MESSAGE_BYTES`] on a character boundary.
pub(crate) fn server_message(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("error").and_then(|e| e.as_str()).map(str::to_owned));
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    sanitize(&text)
}

/// Control characters become spaces, runs of whitespace stay as they are, and the text is cut
/// to [`MAX_MESSAGE_BYTES`].
pub(crate) fn sanitize(text: &str) -> String {
    let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let trimmed = cleaned.trim();
    if trimmed.len() <= MAX_MESSAGE_BYTES {
        return trimmed.to_owned();
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &trimmed[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> ApiError {
        ApiError::Status { method: Method::GET, path: "/x".into(), status: code, message: String::new() }
    }

    #[test]
    fn server_errors_and_transport_failures_are_retryable_refusals_are_not() {
        assert!(status(500).is_retryable());
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(404).is_retryable());
        let timeout = ApiError::Timeout { method: Method::GET, path: "/x".into(), after: Duration::from_secs(1) };
        assert!(timeout.is_retryable());
        let not_json =
            ApiError::NotJson { method: Method::GET, path: "/x".into(), status: 200, content_type: "text/html".into() };
        assert!(!not_json.is_retryable());
    }

    #[test]
    fn the_message_is_the_json_error_field_when_there_is_one() {
        assert_eq!(server_message(br#"{"error":"table t already exists"}"#), "table t already exists");
    }

    #[test]
    fn the_message_is_the_text_body_otherwise() {
        assert_eq!(server_message(b"Failed to lookup key: not found\n"), "Failed to lookup key: not found");
        assert_eq!(server_message(br#"{"status":"failed"}"#), r#"{"status":"failed"}"#);
    }

    #[test]
    fn control_characters_are_stripped_and_long_messages_cut() {
        assert_eq!(server_message(b"bad\x1b[31m red\r\nline"), "bad [31m red  line");
        let long = "é".repeat(2000);
        let message = server_message(long.as_bytes());
        assert!(message.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
        assert!(message.ends_with('…'));
    }

    #[test]
    fn every_message_names_the_method_and_path() {
        let error = ApiError::Status {
            method: Method::POST,
            path: "/db/v1/restore".into(),
            status: 400,
            message: "table t already exists".into(),
        };
        assert_eq!(
            error.to_string(),
            "failed to call POST /db/v1/restore: server answered 400: table t already exists"
        );
    }
}
