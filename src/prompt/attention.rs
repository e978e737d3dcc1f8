//! Emphasis: the WebUI's `prompt_parser.parse_prompt_attention`, reproduced step for step.
//!
//! `(x)` multiplies the attention to x by 1.1, `[x]` divides it by 1.1, `(x:1.3)` multiplies it by 1.3,
//! `\(` `\)` `\[` `\]` `\\` are literal characters, a lone backslash is dropped, unbalanced brackets
//! still apply to the end of the text, and `BREAK` (a whole word) becomes a `("BREAK", -1.0)` marker.
//! The weights are multiplied in the same order as the WebUI (f64), so runs of equal weights merge
//! exactly as there.

use super::PromptError;
use super::pychar;

/// One run of text and the attention multiplier it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    pub text: String,
    pub weight: f64,
}

impl Fragment {
    fn new(text: &str, weight: f64) -> Self {
        Self {
            text: text.to_owned(),
            weight,
        }
    }

    /// The marker that `BREAK` leaves (the WebUI's `["BREAK", -1]`): the chunker starts a new chunk.
    pub fn is_break(&self) -> bool {
        self.text == "BREAK" && self.weight == -1.0
    }
}

const ROUND: f64 = 1.1;

/// One token of the WebUI's `re_attention` scanner.
enum Tok<'a> {
    /// `\(`, `\)`, `\[`, `\]`, `\\`, or a lone `\` (empty text).
    Escape(&'a str),
    Open,
    OpenSquare,
    /// `:` weight `)` (with optional whitespace around the number).
    Weight(&'a str),
    Close,
    CloseSquare,
    /// A run of ordinary text, or a lone `:`.
    Text(&'a str),
}

/// Scan one token at byte `i`; returns it and its byte length.
fn scan(s: &str, i: usize) -> (Tok<'_>, usize) {
    let rest = &s[i..];
    let mut chars = rest.chars();
    let Some(c) = chars.next() else {
        return (Tok::Text(""), 0);
    };
    match c {
        '\\' => match chars.next() {
            Some(n @ ('(' | ')' | '[' | ']' | '\\')) => (Tok::Escape(&rest[1..1 + n.len_utf8()]), 2),
            _ => (Tok::Escape(""), 1),
        },
        '(' => (Tok::Open, 1),
        '[' => (Tok::OpenSquare, 1),
        ')' => (Tok::Close, 1),
        ']' => (Tok::CloseSquare, 1),
        ':' => match weight_at(rest) {
            Some((number, len)) => (Tok::Weight(number), len),
            None => (Tok::Text(":"), 1),
        },
        _ => {
            let len = rest
                .char_indices()
                .find(|&(_, c)| matches!(c, '\\' | '(' | ')' | '[' | ']' | ':'))
                .map_or(rest.len(), |(j, _)| j);
            (Tok::Text(&rest[..len]), len)
        }
    }
}

/// `:\s*([+-]?[.\d]+)\s*\)` at the start of `rest` (ASCII digits only).
fn weight_at(rest: &str) -> Option<(&str, usize)> {
    let mut i = 1 + pychar::space_run(rest, 1);
    let start = i;
    let bytes = rest.as_bytes();
    if matches!(bytes.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = i;
    while matches!(bytes.get(i), Some(b'.' | b'0'..=b'9')) {
        i += 1;
    }
    if i == digits {
        return None;
    }
    let end = i;
    i += pychar::space_run(rest, i);
    (bytes.get(i) == Some(&b')')).then_some((&rest[start..end], i + 1))
}

/// `re.split(r"\s*\bBREAK\b\s*", text)`.
fn split_break(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut last = 0;
    for (start, end) in pychar::find_keyword(text, "BREAK") {
        if start < last {
            continue;
        }
        // Leading whitespace belongs to the separator (greedy `\s*` before it).
        let head = text[last..start].trim_end_matches(pychar::is_space);
        parts.push(head);
        last = end + pychar::space_run(text, end);
    }
    parts.push(&text[last..]);
    parts
}

/// The WebUI's `parse_prompt_attention`: (text, weight) runs with equal neighbours merged.
pub fn parse_prompt_attention(text: &str) -> Result<Vec<Fragment>, PromptError> {
    let mut res: Vec<Fragment> = Vec::new();
    let mut round: Vec<usize> = Vec::new();
    let mut square: Vec<usize> = Vec::new();
    let multiply = |res: &mut Vec<Fragment>, from: usize, m: f64| {
        for f in &mut res[from..] {
            f.weight *= m;
        }
    };

    let mut i = 0;
    while i < text.len() {
        let (tok, len) = scan(text, i);
        i += len;
        match tok {
            Tok::Escape(t) => res.push(Fragment::new(t, 1.0)),
            Tok::Open => round.push(res.len()),
            Tok::OpenSquare => square.push(res.len()),
            Tok::Weight(number) if !round.is_empty() => {
                let w: f64 = number
                    .parse()
                    .map_err(|_| PromptError::InvalidWeight(number.to_owned()))?;
                let from = round.pop().unwrap_or_default();
                multiply(&mut res, from, w);
            }
            Tok::Close if !round.is_empty() => {
                let from = round.pop().unwrap_or_default();
                multiply(&mut res, from, ROUND);
            }
            Tok::CloseSquare if !square.is_empty() => {
                let from = square.pop().unwrap_or_default();
                multiply(&mut res, from, 1.0 / ROUND);
            }
            other => {
                let whole = match other {
                    Tok::Text(t) => t,
                    Tok::Close => ")",
                    Tok::CloseSquare => "]",
                    // A weight with no open bracket is plain text, `:` to `)` inclusive.
                    Tok::Weight(_) => &text[i - len..i],
                    Tok::Escape(_) | Tok::Open | Tok::OpenSquare => "",
                };
                for (k, part) in split_break(whole).into_iter().enumerate() {
                    if k > 0 {
                        res.push(Fragment::new("BREAK", -1.0));
                    }
                    res.push(Fragment::new(part, 1.0));
                }
            }
        }
    }
    for &pos in &round {
        multiply(&mut res, pos, ROUND);
    }
    for &pos in &square {
        multiply(&mut res, pos, 1.0 / ROUND);
    }
    if res.is_empty() {
        res.push(Fragment::new("", 1.0));
    }
    let mut merged: Vec<Fragment> = Vec::with_capacity(res.len());
    for f in res {
        match merged.last_mut() {
            Some(last) if last.weight == f.weight => last.text.push_str(&f.text),
            _ => merged.push(f),
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, f64)> {
        parse_prompt_attention(s)
            .unwrap()
            .into_iter()
            .map(|f| (f.text, f.weight))
            .collect()
    }

    #[test]
    fn doctests() {
        assert_eq!(p("normal text"), vec![("normal text".into(), 1.0)]);
        assert_eq!(
            p("an (important) word"),
            vec![("an ".into(), 1.0), ("important".into(), 1.1), (" word".into(), 1.0)]
        );
        assert_eq!(p("(unbalanced"), vec![("unbalanced".into(), 1.1)]);
        assert_eq!(p("\\(literal\\]"), vec![("(literal]".into(), 1.0)]);
        assert_eq!(p("(unnecessary)(parens)"), vec![("unnecessaryparens".into(), 1.1)]);
        let got = p("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).");
        assert_eq!(got[1], ("house".into(), 1.5730000000000004));
        assert_eq!(got[7], ("sky".into(), 1.4641000000000006));
        assert_eq!(got.len(), 9);
    }

    #[test]
    fn break_and_oddities() {
        assert_eq!(
            p("a BREAK b"),
            vec![("a".into(), 1.0), ("BREAK".into(), -1.0), ("b".into(), 1.0)]
        );
        assert_eq!(p("aBREAK b"), vec![("aBREAK b".into(), 1.0)]);
        assert_eq!(p("a\\b"), vec![("ab".into(), 1.0)]);
        assert_eq!(p("x:1.5)"), vec![("x:1.5)".into(), 1.0)]);
        assert_eq!(p(""), vec![("".into(), 1.0)]);
        assert!(matches!(
            parse_prompt_attention("(a:1.2.3)"),
            Err(PromptError::InvalidWeight(_))
        ));
    }
}
