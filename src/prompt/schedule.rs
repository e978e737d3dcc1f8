//! Prompt editing and alternation: the WebUI's `get_learned_conditioning_prompt_schedules`.
//!
//! `[from:to:when]`, `[to:when]`, `[from::when]` swap text at a step; `[a|b|c]` alternates every
//! step. The WebUI parses with a lark Earley grammar; this is a recursive-descent parser for the same
//! language that gives the same schedules (checked against the WebUI on the doctests plus thousands
//! of random prompts, tests/fixtures/prompt/schedules.json). Where the grammar is ambiguous and lark's
//! pick depends on Python's hash seed (a bracket that can be either literal or a schedule when the
//! whole prompt is not one well-formed prompt, about 1 prompt in 2000 of the random ones), this
//! parser always takes the schedule, which is one of the answers the WebUI gives.
//!
//! A prompt that the grammar rejects (a `|` outside `[...]`, a backslash at the end or before a
//! newline) is used as it is for every step, as the WebUI does.

use super::PromptError;
use super::pychar;

/// Brackets nested deeper than this are refused (the WebUI's parser recurses in Python too).
pub const MAX_NESTING: usize = 100;

/// Which of the WebUI's step conventions applies to `when`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleSteps {
    /// Steps of the (first) pass.
    pub base_steps: usize,
    /// `Some(n)` when scheduling the hires second pass of n steps: integers then count on from the
    /// end of the first pass and fractions from 1.0 to 2.0 span the second pass.
    pub hires_steps: Option<usize>,
    /// The WebUI's "use_old_scheduling" compatibility setting: when < 1 is a fraction, else a step.
    pub use_old_scheduling: bool,
}

impl ScheduleSteps {
    pub fn new(base_steps: usize) -> Self {
        Self {
            base_steps,
            hires_steps: None,
            use_old_scheduling: false,
        }
    }

    /// The number of steps the schedule spans.
    pub fn steps(&self) -> usize {
        match self.hires_steps {
            Some(h) if !self.use_old_scheduling => h,
            _ => self.base_steps,
        }
    }

    /// The WebUI's conversion of a `when` number to the last step of the "from" text.
    fn when(&self, number: &str) -> Result<i64, PromptError> {
        let v: f64 = number
            .parse()
            .map_err(|_| PromptError::InvalidScheduleNumber(number.to_owned()))?;
        let steps = self.steps() as f64;
        let hires = self.hires_steps.is_some() && !self.use_old_scheduling;
        let v = if self.use_old_scheduling {
            if v < 1.0 { v * steps } else { v }
        } else if number.contains('.') {
            (v - if hires { 1.0 } else { 0.0 }) * steps
        } else {
            v - if hires { self.base_steps as f64 } else { 0.0 }
        };
        if !v.is_finite() {
            return Err(PromptError::InvalidScheduleNumber(number.to_owned()));
        }
        // Python's int() truncates toward zero; `as` saturates, min() brings it to the step count.
        Ok((v.trunc() as i64).min(self.steps() as i64))
    }
}

/// One step range of a schedule: `text` applies up to and including step `end_at_step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledText {
    pub end_at_step: usize,
    pub text: String,
}

#[derive(Debug)]
enum Node {
    /// Bytes `start..end` of the prompt, literally.
    Text(usize, usize),
    /// Emphasis brackets (kept literally, the brackets are Text nodes inside).
    Group(Vec<Node>),
    Alternate(Vec<Vec<Node>>),
    Scheduled {
        before: Option<Vec<Node>>,
        after: Vec<Node>,
        when: i64,
    },
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    steps: ScheduleSteps,
}

/// Why the top level gave no tree: the grammar rejects the prompt (it is then used unscheduled),
/// or a limit was hit.
enum Failure {
    Reject,
    Error(PromptError),
}

impl From<PromptError> for Failure {
    fn from(e: PromptError) -> Self {
        Failure::Error(e)
    }
}

impl<'a> Parser<'a> {
    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn at_end(&self, i: usize) -> bool {
        i >= self.b.len()
    }

    /// `plain: /([^\\\[\]():|]|\\.)+/` at `i`: its end, or None when it matches nothing.
    fn plain(&self, mut i: usize) -> Option<usize> {
        let start = i;
        while let Some(c) = self.s[i..].chars().next() {
            match c {
                '[' | ']' | '(' | ')' | ':' | '|' => break,
                '\\' => match self.s[i + 1..].chars().next() {
                    Some(n) if n != '\n' => i += 1 + n.len_utf8(),
                    _ => break,
                },
                _ => i += c.len_utf8(),
            }
        }
        (i > start).then_some(i)
    }

    /// `prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*` from `i`, stopping at the
    /// first character it cannot take.
    fn prompt(&self, mut i: usize, depth: usize) -> Result<(Vec<Node>, usize), PromptError> {
        let mut items = Vec::new();
        while !self.at_end(i) {
            match self.at(i) {
                b'(' | b'[' => match self.structure(i, depth + 1)? {
                    Some((node, end)) => {
                        items.push(node);
                        i = end;
                    }
                    None => break,
                },
                b')' | b']' | b':' | b'|' => break,
                _ => match self.plain(i) {
                    Some(end) => {
                        items.push(Node::Text(i, end));
                        i = end;
                    }
                    None => break,
                },
            }
        }
        Ok((items, i))
    }

    /// `: [WHITESPACE] NUMBER [WHITESPACE] ]` after the colon at `i - 1`.
    fn number_tail(&self, i: usize) -> Result<Option<(i64, usize)>, PromptError> {
        let i = i + pychar::space_run(self.s, i);
        let Some(end) = number(self.b, i) else {
            return Ok(None);
        };
        let close = end + pychar::space_run(self.s, end);
        if self.at(close) != b']' {
            return Ok(None);
        }
        let when = self.steps.when(&self.s[i..end])?;
        Ok(Some((when, close + 1)))
    }

    /// An emphasized, scheduled or alternate structure at the bracket `i`, if one is there.
    fn structure(&self, i: usize, depth: usize) -> Result<Option<(Node, usize)>, PromptError> {
        if depth > MAX_NESTING {
            return Err(PromptError::TooDeep(MAX_NESTING));
        }
        let open = self.at(i);
        let (p1, j) = self.prompt(i + 1, depth)?;
        let text = |a: usize, b: usize| Node::Text(a, b);
        if open == b'(' {
            return Ok(match self.at(j) {
                b')' if !self.at_end(j) => {
                    let mut v = vec![text(i, i + 1)];
                    v.extend(p1);
                    v.push(text(j, j + 1));
                    Some((Node::Group(v), j + 1))
                }
                b':' if !self.at_end(j) => {
                    let (p2, k) = self.prompt(j + 1, depth)?;
                    if self.at(k) == b')' && !self.at_end(k) {
                        let mut v = vec![text(i, i + 1)];
                        v.extend(p1);
                        v.push(text(j, j + 1));
                        v.extend(p2);
                        v.push(text(k, k + 1));
                        Some((Node::Group(v), k + 1))
                    } else {
                        None
                    }
                }
                _ => None,
            });
        }
        if self.at_end(j) {
            return Ok(None);
        }
        match self.at(j) {
            b']' => {
                let mut v = vec![text(i, i + 1)];
                v.extend(p1);
                v.push(text(j, j + 1));
                Ok(Some((Node::Group(v), j + 1)))
            }
            b'|' => {
                let mut options = vec![p1];
                let mut j = j;
                while self.at(j) == b'|' && !self.at_end(j) {
                    let (p, k) = self.prompt(j + 1, depth)?;
                    options.push(p);
                    j = k;
                }
                if self.at(j) == b']' && !self.at_end(j) {
                    Ok(Some((Node::Alternate(options), j + 1)))
                } else {
                    Ok(None)
                }
            }
            b':' => {
                if let Some((when, end)) = self.number_tail(j + 1)? {
                    return Ok(Some((
                        Node::Scheduled {
                            before: None,
                            after: p1,
                            when,
                        },
                        end,
                    )));
                }
                let (p2, k) = self.prompt(j + 1, depth)?;
                if self.at(k) == b':'
                    && !self.at_end(k)
                    && let Some((when, end)) = self.number_tail(k + 1)?
                {
                    return Ok(Some((
                        Node::Scheduled {
                            before: Some(p1),
                            after: p2,
                            when,
                        },
                        end,
                    )));
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// `start: (prompt | /[][():]/+)*`: brackets that form no structure are literal text.
    fn top(&self) -> Result<Vec<Node>, Failure> {
        let mut items = Vec::new();
        let mut i = 0;
        while !self.at_end(i) {
            match self.at(i) {
                b'(' | b'[' => match self.structure(i, 1)? {
                    Some((node, end)) => {
                        items.push(node);
                        i = end;
                    }
                    None => {
                        items.push(Node::Text(i, i + 1));
                        i += 1;
                    }
                },
                b')' | b']' | b':' => {
                    items.push(Node::Text(i, i + 1));
                    i += 1;
                }
                b'|' => return Err(Failure::Reject),
                _ => match self.plain(i) {
                    Some(end) => {
                        items.push(Node::Text(i, end));
                        i = end;
                    }
                    None => return Err(Failure::Reject),
                },
            }
        }
        Ok(items)
    }
}

/// lark's `SIGNED_NUMBER` regex at `i` (Python's ordered alternation): its end.
fn number(b: &[u8], i: usize) -> Option<usize> {
    let digits = |k: usize| b[k.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
    let at = |k: usize| b.get(k).copied().unwrap_or(0);
    let exponent = |k: usize| -> usize {
        if matches!(at(k), b'e' | b'E') {
            let mut m = k + 1;
            if matches!(at(m), b'+' | b'-') {
                m += 1;
            }
            let d = digits(m);
            if d > 0 {
                return m + d - k;
            }
        }
        0
    };
    let mut j = i;
    if matches!(at(j), b'+' | b'-') {
        j += 1;
    }
    let d1 = digits(j);
    if d1 > 0 && matches!(at(j + d1), b'e' | b'E') {
        let e = exponent(j + d1);
        if e > 0 {
            return Some(j + d1 + e);
        }
    }
    if d1 > 0 && at(j + d1) == b'.' {
        let k = j + d1 + 1;
        let k = k + digits(k);
        return Some(k + exponent(k));
    }
    if d1 == 0 && at(j) == b'.' {
        let d = digits(j + 1);
        if d > 0 {
            let k = j + 1 + d;
            return Some(k + exponent(k));
        }
    }
    (d1 > 0).then_some(j + d1)
}

fn collect(nodes: &[Node], steps: usize, out: &mut Vec<usize>) {
    for n in nodes {
        match n {
            Node::Text(..) => {}
            Node::Group(v) => collect(v, steps, out),
            Node::Alternate(options) => {
                for o in options {
                    collect(o, steps, out);
                }
                out.extend(1..=steps);
            }
            Node::Scheduled { before, after, when } => {
                if let Some(b) = before {
                    collect(b, steps, out);
                }
                collect(after, steps, out);
                if *when >= 1 {
                    out.push(*when as usize);
                }
            }
        }
    }
}

fn render(s: &str, nodes: &[Node], step: usize, out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(a, b) => out.push_str(&s[*a..*b]),
            Node::Group(v) => render(s, v, step, out),
            Node::Alternate(options) => {
                let pick = &options[(step - 1) % options.len()];
                render(s, pick, step, out);
            }
            Node::Scheduled { before, after, when } => {
                if (step as i64) <= *when {
                    if let Some(b) = before {
                        render(s, b, step, out);
                    }
                } else {
                    render(s, after, step, out);
                }
            }
        }
    }
}

/// Largest total of text that the schedules of one prompt may add up to.
pub const MAX_SCHEDULE_BYTES: usize = 64 << 20;

/// The schedule of one prompt: the texts to use and the last step of each, ascending, the last one
/// ending at `steps.steps()`.
pub fn prompt_schedule(prompt: &str, steps: ScheduleSteps) -> Result<Vec<ScheduledText>, PromptError> {
    let total = steps.steps();
    if total == 0 {
        return Err(PromptError::ZeroSteps);
    }
    let parser = Parser {
        s: prompt,
        b: prompt.as_bytes(),
        steps,
    };
    let nodes = match parser.top() {
        Ok(nodes) => nodes,
        Err(Failure::Reject) => {
            return Ok(vec![ScheduledText {
                end_at_step: total,
                text: prompt.to_owned(),
            }]);
        }
        Err(Failure::Error(e)) => return Err(e),
    };
    let mut ends = vec![total];
    collect(&nodes, total, &mut ends);
    ends.sort_unstable();
    ends.dedup();
    if ends.len().saturating_mul(prompt.len().max(1)) > MAX_SCHEDULE_BYTES {
        return Err(PromptError::ScheduleTooLarge);
    }
    Ok(ends
        .into_iter()
        .map(|step| {
            let mut text = String::new();
            render(prompt, &nodes, step, &mut text);
            ScheduledText {
                end_at_step: step,
                text,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str) -> Vec<(usize, String)> {
        prompt_schedule(p, ScheduleSteps::new(10))
            .unwrap()
            .into_iter()
            .map(|s| (s.end_at_step, s.text))
            .collect()
    }

    fn v(items: &[(usize, &str)]) -> Vec<(usize, String)> {
        items.iter().map(|&(s, t)| (s, t.to_owned())).collect()
    }

    #[test]
    fn doctests() {
        assert_eq!(g("test"), v(&[(10, "test")]));
        assert_eq!(g("a [b:3]"), v(&[(3, "a "), (10, "a b")]));
        assert_eq!(g("a [b: 3]"), v(&[(3, "a "), (10, "a b")]));
        assert_eq!(g("a [[[b]]:2]"), v(&[(2, "a "), (10, "a [[b]]")]));
        assert_eq!(g("[(a:2):3]"), v(&[(3, ""), (10, "(a:2)")]));
        assert_eq!(g("a [b : c : 1] d"), v(&[(1, "a b  d"), (10, "a  c  d")]));
        assert_eq!(g("a[b:[c:d:2]:1]e"), v(&[(1, "abe"), (2, "ace"), (10, "ade")]));
        assert_eq!(g("a [unbalanced"), v(&[(10, "a [unbalanced")]));
        assert_eq!(g("a [b:.5] c"), v(&[(5, "a  c"), (10, "a b c")]));
        assert_eq!(g("((a][:b:c [d:3]"), v(&[(3, "((a][:b:c "), (10, "((a][:b:c d")]));
        assert_eq!(g("[fe|||]male").len(), 10);
        let hires = |p: &str| {
            let steps = ScheduleSteps {
                base_steps: 10,
                hires_steps: Some(10),
                use_old_scheduling: false,
            };
            prompt_schedule(p, steps).unwrap().len()
        };
        assert_eq!(hires("a [b:.5] c"), 1);
        assert_eq!(hires("a [b:1.5] c"), 2);
    }

    #[test]
    fn numbers_follow_lark() {
        assert_eq!(number(b"12e5]", 0), Some(4));
        assert_eq!(number(b"12e]", 0), Some(2));
        assert_eq!(number(b"1.e5", 0), Some(4));
        assert_eq!(number(b"-.5", 0), Some(3));
        assert_eq!(number(b".", 0), None);
        assert_eq!(number(b"+", 0), None);
    }

    #[test]
    fn refuses_what_cannot_be_done() {
        let deep = "[".repeat(1000) + "a";
        assert!(matches!(
            prompt_schedule(&deep, ScheduleSteps::new(10)),
            Err(PromptError::TooDeep(_))
        ));
        let huge = format!("[a:b:{}]", "9".repeat(400));
        assert!(prompt_schedule(&huge, ScheduleSteps::new(10)).is_err());
        let huge_fraction = format!("[a:b:0.{}]", "9".repeat(400));
        // 0.999… rounds to 1.0: the whole range, one entry (as in Python).
        assert_eq!(
            prompt_schedule(&huge_fraction, ScheduleSteps::new(10)).unwrap().len(),
            1
        );
        assert!(matches!(
            prompt_schedule("[a:b:1e400]", ScheduleSteps::new(10)),
            Err(PromptError::InvalidScheduleNumber(_))
        ));
        assert!(matches!(
            prompt_schedule("a", ScheduleSteps::new(0)),
            Err(PromptError::ZeroSteps)
        ));
    }
}
