//! Text that comes from a plugin (its error messages, panic messages, what it names in a
//! contribution) ends up in logs, conditions, events and terminals. Before it goes there it
//! is made inert and short: control characters (ANSI escape sequences, carriage returns,
//! bells, newlines that would forge log lines) and invisible formatting characters (bidi
//! overrides and isolates, zero-width characters) are removed, and the length is bounded.

/// Bound on one plugin-supplied message, in bytes.
pub const MAX_PLUGIN_TEXT_BYTES: usize = 1024;

/// Marks text that was cut to its bound.
pub const TRUNCATION_MARKER: &str = "…";

/// `text` without control or invisible formatting characters, and at most `max_bytes` bytes
/// long (a cut text ends with [`TRUNCATION_MARKER`], within the bound). Line breaks and tabs
/// become spaces, so the text stays on one line.
pub fn sanitize_text(text: &str, max_bytes: usize) -> String {
    let mut clean = String::with_capacity(text.len().min(max_bytes));
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape_sequence(&mut chars),
            // The 8-bit forms of CSI and OSC.
            '\u{9b}' => skip_until_final_byte(&mut chars),
            '\u{9d}' => skip_until_string_terminator(&mut chars),
            '\n' | '\t' | '\r' => {
                if !clean.ends_with(' ') && !clean.is_empty() {
                    clean.push(' ');
                }
            }
            c if c.is_control() || is_invisible_format(c) => {}
            c => clean.push(c),
        }
        if clean.len() > max_bytes {
            break;
        }
    }
    truncate(clean.trim_end().to_string(), max_bytes)
}

/// `text` cut to at most `max_bytes` bytes on a character boundary, ending with
/// [`TRUNCATION_MARKER`] when cut.
pub fn truncate(mut text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes.saturating_sub(TRUNCATION_MARKER.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(TRUNCATION_MARKER);
    text
}

/// Bidi embeddings, overrides and isolates, marks, and zero-width characters: they change
/// how the text around them is displayed without being visible themselves.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// After ESC: a CSI sequence (`ESC [ ... final`), an OSC string (`ESC ] ... BEL|ST`), or a
/// two-character escape.
fn skip_escape_sequence(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_until_final_byte(chars),
        Some(']' | 'P' | '_' | '^' | 'X') => skip_until_string_terminator(chars),
        _ => {}
    }
}

fn skip_until_final_byte(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            return;
        }
    }
}

fn skip_until_string_terminator(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' if chars.peek() == Some(&'\\') => {
                chars.next();
                return;
            }
            _ => {}
        }
    }
}

/// An error and its causes, on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_control_and_bidi_characters_are_removed() {
        let text = "\u{1b}[31mred\u{1b}[0m\rOVER\u{202e}rev\u{202c} \u{1b}]0;title\u{7}bell\u{7}\u{200b}z\nnext";
        assert_eq!(sanitize_text(text, MAX_PLUGIN_TEXT_BYTES), "red OVERrev bellz next");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_with_a_marker() {
        let text = "é".repeat(2000);
        let clean = sanitize_text(&text, MAX_PLUGIN_TEXT_BYTES);
        assert!(clean.len() <= MAX_PLUGIN_TEXT_BYTES, "{}", clean.len());
        assert!(clean.ends_with(TRUNCATION_MARKER));
        assert_eq!(sanitize_text("short", 10), "short");
        assert_eq!(truncate("abcdef".to_string(), 5), format!("ab{TRUNCATION_MARKER}"));
    }
}
