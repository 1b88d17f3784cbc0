//! Free text that ends up in logs, records, CSV files and screens: bounded in length,
//! and free of control and bidirectional-formatting characters (which can make a
//! table display something other than what is stored).

/// Longest source name shown in a log line.
pub const MAX_LOGGED_NAME: usize = 64;

/// Whether `c` reorders or hides text when displayed: the Unicode bidirectional
/// embeddings, overrides and isolates, and the direction marks.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Why `text` is not acceptable free text of at most `max` characters, if it is not.
pub fn free_text_problem(text: &str, max: usize) -> Option<String> {
    if text.chars().count() > max {
        return Some(format!("longer than {max} characters"));
    }
    if text.chars().any(char::is_control) {
        return Some("contains control characters".into());
    }
    if text.chars().any(is_bidi_control) {
        return Some("contains bidirectional-formatting characters".into());
    }
    None
}

/// A name from the outside (a URL path segment) as it may appear in a log line:
/// escaped (`Debug`-style, so control and bidirectional characters are visible) and
/// cut to [`MAX_LOGGED_NAME`] characters, marked `…` when cut.
pub fn loggable(name: &str) -> String {
    let mut shown: String = name
        .chars()
        .take(MAX_LOGGED_NAME)
        .flat_map(|c| {
            let visible = if is_bidi_control(c) {
                c.escape_unicode().to_string()
            } else {
                c.escape_debug().to_string()
            };
            visible.chars().collect::<Vec<_>>()
        })
        .collect();
    if name.chars().count() > MAX_LOGGED_NAME {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_refused_and_length_is_bounded() {
        assert_eq!(free_text_problem("grid bot #2", 64), None);
        assert!(free_text_problem("a\nb", 64).is_some());
        assert!(free_text_problem("abc\u{202E}fed", 64).is_some());
        assert!(free_text_problem("\u{2066}x", 64).is_some());
        assert!(free_text_problem(&"x".repeat(65), 64).is_some());
        assert_eq!(free_text_problem(&"é".repeat(64), 64), None);
    }

    #[test]
    fn a_logged_name_is_escaped_and_cut_to_sixty_four_characters() {
        assert_eq!(loggable("tv"), "tv");
        assert_eq!(loggable("a\nERROR forged"), "a\\nERROR forged");
        assert_eq!(loggable("\u{1b}[31m"), "\\u{1b}[31m");
        assert_eq!(loggable("x\u{202E}y"), "x\\u{202e}y");
        let long = loggable(&"n".repeat(60_000));
        assert_eq!(long.chars().count(), 65);
        assert!(long.ends_with('…'));
    }
}
