//! Python `re` character classes for `str` patterns, as the WebUI's regular expressions see them.
//!
//! Python's `\s` is `str.isspace()` (Unicode White_Space plus the separators U+001C..U+001F) and
//! `\w` is `str.isalnum()` or `_`. Rust's `char::is_alphanumeric` also counts combining marks of the
//! Other_Alphabetic property, which Python's `isalnum` does not; that difference only matters for a
//! combining mark right next to the keywords BREAK / AND and is accepted.

/// Python's `\s` (`str.isspace`).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `\w` (`str.isalnum() or c == '_'`), up to the caveat in the module docs.
pub(crate) fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Python's `\b` at byte offset `i` of `s` (which must be a char boundary).
pub(crate) fn is_word_boundary(s: &str, i: usize) -> bool {
    let before = s[..i].chars().next_back().is_some_and(is_word);
    let after = s[i..].chars().next().is_some_and(is_word);
    before != after
}

/// Byte length of the run of Python whitespace starting at byte `i`.
pub(crate) fn space_run(s: &str, i: usize) -> usize {
    s[i..].chars().take_while(|&c| is_space(c)).map(char::len_utf8).sum()
}

/// Every match of Python's `\bWORD\b` in `s` (non-overlapping, left to right), as byte ranges.
pub(crate) fn find_keyword(s: &str, word: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = s[from..].find(word) {
        let start = from + pos;
        let end = start + word.len();
        if is_word_boundary(s, start) && is_word_boundary(s, end) {
            out.push((start, end));
            from = end;
        } else {
            // `word` starts with a word character: step one char forward.
            from = start + s[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_classes() {
        assert!(is_space('\u{1f}') && is_space('\u{3000}') && is_space('\n'));
        assert!(!is_space('a'));
        assert!(is_word('é') && is_word('_') && is_word('7') && !is_word('-'));
        assert_eq!(find_keyword("a AND b ANDROID _AND AND", "AND"), vec![(2, 5), (21, 24)]);
        assert_eq!(find_keyword("AND", "AND"), vec![(0, 3)]);
    }
}
