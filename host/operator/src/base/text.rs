//! Bounds the API server puts on text, and cutting text to them.

/// Kubernetes refuses an Event whose note is longer than this, in bytes.
pub const MAX_EVENT_NOTE_BYTES: usize = 1024;
/// Kubernetes refuses a condition whose message is longer than this, in bytes.
pub const MAX_CONDITION_MESSAGE_BYTES: usize = 32 * 1024;
/// Ends text that was cut.
pub const ELLIPSIS: &str = "…";

/// `text` cut to at most `max_bytes` bytes on a character boundary, ending with [`ELLIPSIS`]
/// when cut.
pub fn truncate_utf8(mut text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes.saturating_sub(ELLIPSIS.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(ELLIPSIS);
    text
}

/// Text from a peer (an Antfly server, a Job's result) made safe for status, events and
/// terminals: control characters become spaces, and it is cut to `max_bytes`.
pub fn sanitize(text: &str, max_bytes: usize) -> String {
    truncate_utf8(text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect(), max_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_text_fits_its_bound_and_ends_with_an_ellipsis() {
        let note = truncate_utf8("ü".repeat(MAX_EVENT_NOTE_BYTES), MAX_EVENT_NOTE_BYTES);
        assert!(note.len() <= MAX_EVENT_NOTE_BYTES && note.ends_with(ELLIPSIS), "{}", note.len());
        assert_eq!(truncate_utf8("short".to_string(), 10), "short");
    }
}
