//! Building URLs: the base URL check, percent-encoded path segments and query values.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::ApiError;

/// Everything but RFC 3986's unreserved characters is encoded, in path segments and in query
/// values alike: `/`, `?`, `#`, `%`, `&`, `=`, `+` and spaces can never change the meaning of a URL.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Checks a base URL such as `http://antfly-metadata:12377` and returns it without a trailing
/// slash. Only plain `http` with a host is accepted: in the cluster, TLS is the mesh's job.
pub(crate) fn parse_base_url(base_url: &str) -> Result<String, ApiError> {
    let refuse = |reason: &str| ApiError::InvalidUrl { url: base_url.to_owned(), reason: reason.to_owned() };
    let uri: http::Uri = base_url.parse().map_err(|e: http::uri::InvalidUri| refuse(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => return Err(refuse(&format!("scheme {other:?} is not supported, only plain http"))),
        None => return Err(refuse("no scheme: expected http://host:port")),
    }
    let authority = uri.authority().ok_or_else(|| refuse("no host: expected http://host:port"))?;
    if authority.host().is_empty() {
        return Err(refuse("no host: expected http://host:port"));
    }
    if authority.as_str().contains('@') {
        return Err(refuse("credentials in the URL are not supported"));
    }
    if uri.query().is_some() {
        return Err(refuse("a base URL takes no query"));
    }
    let path = uri.path().trim_end_matches('/');
    Ok(format!("http://{authority}{path}"))
}

/// One path segment, percent-encoded. An empty segment, `.` and `..` are refused: they would
/// change the path rather than name something in it.
pub(crate) fn segment(value: &str) -> Result<String, ApiError> {
    if value.is_empty() || value == "." || value == ".." {
        return Err(ApiError::InvalidUrl {
            url: value.to_owned(),
            reason: "a table name or key cannot be empty, \".\" or \"..\"".to_owned(),
        });
    }
    Ok(utf8_percent_encode(value, ENCODED).to_string())
}

/// A query value, percent-encoded.
pub(crate) fn query_value(value: &str) -> String {
    utf8_percent_encode(value, ENCODED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_http_base_url_is_kept_without_its_trailing_slash() {
        assert_eq!(parse_base_url("http://meta-0.meta:12377/").ok().as_deref(), Some("http://meta-0.meta:12377"));
        assert_eq!(parse_base_url("http://127.0.0.1:80").ok().as_deref(), Some("http://127.0.0.1:80"));
        assert_eq!(parse_base_url("http://proxy/antfly/").ok().as_deref(), Some("http://proxy/antfly"));
    }

    #[test]
    fn other_schemes_and_garbage_are_refused_with_a_reason() {
        for bad in ["https://meta:12377", "ftp://meta", "meta:12377", "", "not a url", "http://", "http://u:p@meta"] {
            match parse_base_url(bad) {
                Err(ApiError::InvalidUrl { reason, .. }) => assert!(!reason.is_empty(), "{bad}"),
                other => panic!("{bad:?} was not refused: {other:?}"),
            }
        }
        let Err(error) = parse_base_url("https://meta:12377") else { panic!("https accepted") };
        assert!(error.to_string().contains("only plain http"), "{error}");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("users").ok().as_deref(), Some("users"));
        assert_eq!(segment("a/b?c#d e%").ok().as_deref(), Some("a%2Fb%3Fc%23d%20e%25"));
        assert_eq!(segment("tablé").ok().as_deref(), Some("tabl%C3%A9"));
        assert_eq!(segment("my-table_1.v~2").ok().as_deref(), Some("my-table_1.v~2"));
    }

    #[test]
    fn segments_that_would_move_the_path_are_refused() {
        for bad in ["", ".", ".."] {
            assert!(matches!(segment(bad), Err(ApiError::InvalidUrl { .. })), "{bad:?}");
        }
    }

    #[test]
    fn query_values_encode_the_characters_that_split_a_query() {
        assert_eq!(query_value("s3://bucket/a b&c=d+e"), "s3%3A%2F%2Fbucket%2Fa%20b%26c%3Dd%2Be");
    }
}
