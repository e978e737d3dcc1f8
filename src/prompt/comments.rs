//! Prompt comments (the WebUI's "Enable comments" option, on by default since v1.8): `#` hides the
//! rest of its line. The same two substitutions as the WebUI's `strip_comments`.

/// `re.sub('(^|\n)#[^\n]*(\n|$)', '\n', text)` then `re.sub('#[^\n]*(\n|$)', '\n', text)`.
pub fn strip_comments(text: &str) -> String {
    let whole_lines = strip(text, true);
    strip(&whole_lines, false)
}

fn strip(text: &str, whole_lines: bool) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let start = if whole_lines {
            if i == 0 && b[0] == b'#' {
                Some(0)
            } else if b[i] == b'\n' && b.get(i + 1) == Some(&b'#') {
                Some(i)
            } else {
                None
            }
        } else {
            (b[i] == b'#').then_some(i)
        };
        let Some(start) = start else {
            i += 1;
            continue;
        };
        let hash = if b[start] == b'#' { start } else { start + 1 };
        let end = b[hash..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |p| hash + p + 1);
        out.push_str(&text[copied..start]);
        out.push('\n');
        copied = end;
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_like_the_webui() {
        assert_eq!(strip_comments("a cat # a dog\nsun"), "a cat \nsun");
        assert_eq!(strip_comments("# hidden\nshown"), "\nshown");
        assert_eq!(strip_comments("#a\n#b\n"), "\n\n");
        assert_eq!(strip_comments("x\n#y"), "x\n");
        assert_eq!(strip_comments("no comment"), "no comment");
    }
}
