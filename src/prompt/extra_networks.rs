//! Extra-network tags `<kind:name:args...>` (`<lora:x:0.8>`, `<hypernet:y:1>`, ...), stripped from the
//! prompt and returned for the model layer, as the WebUI's `extra_networks.parse_prompt`
//! (`re_extra_net = <(\w+):([^>]+)>`; the arguments are split on `:`).

use super::pychar;

/// One `<kind:arg:arg...>` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraNetwork {
    /// `lora`, `hypernet`, ... (the WebUI's extra network name; unknown kinds are the caller's call).
    pub kind: String,
    /// The `:`-separated arguments (the WebUI's `ExtraNetworkParams.items`); never empty.
    pub items: Vec<String>,
}

impl ExtraNetwork {
    /// The first argument: the network's name.
    pub fn name(&self) -> &str {
        self.items.first().map_or("", String::as_str)
    }

    /// Arguments without `=`, or with more than one (the WebUI's `positional`), name included.
    pub fn positional(&self) -> Vec<&str> {
        self.items
            .iter()
            .filter(|item| item.splitn(3, '=').count() != 2)
            .map(String::as_str)
            .collect()
    }

    /// `key=value` arguments (the WebUI's `named`), later ones winning.
    pub fn named(&self) -> Vec<(&str, &str)> {
        self.items
            .iter()
            .filter_map(|item| {
                let parts: Vec<&str> = item.splitn(3, '=').collect();
                (parts.len() == 2).then(|| (parts[0], parts[1]))
            })
            .collect()
    }
}

/// Remove every extra-network tag from `prompt`; returns the prompt without them and the tags in order.
pub fn parse_extra_networks(prompt: &str) -> (String, Vec<ExtraNetwork>) {
    let mut out = String::with_capacity(prompt.len());
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(pos) = prompt[i..].find('<') {
        let start = i + pos;
        out.push_str(&prompt[i..start]);
        match tag_at(prompt, start) {
            Some((tag, end)) => {
                tags.push(tag);
                i = end;
            }
            None => {
                out.push('<');
                i = start + 1;
            }
        }
    }
    out.push_str(&prompt[i..]);
    (out, tags)
}

/// `<(\w+):([^>]+)>` at the `<` at byte `start`.
fn tag_at(s: &str, start: usize) -> Option<(ExtraNetwork, usize)> {
    let rest = &s[start + 1..];
    let name_len: usize = rest
        .chars()
        .take_while(|&c| pychar::is_word(c))
        .map(char::len_utf8)
        .sum();
    if name_len == 0 || !rest[name_len..].starts_with(':') {
        return None;
    }
    let args_start = name_len + 1;
    let close = rest[args_start..].find('>')?;
    if close == 0 {
        return None;
    }
    let args = &rest[args_start..args_start + close];
    let tag = ExtraNetwork {
        kind: rest[..name_len].to_owned(),
        items: args.split(':').map(str::to_owned).collect(),
    };
    Some((tag, start + 1 + args_start + close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags() {
        let (p, tags) =
            parse_extra_networks("1girl, <hypernet:agm:1.1> <extrasupernet:master:12:13:14> <hypernet:ray>");
        assert_eq!(p, "1girl,   ");
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[0].kind, "hypernet");
        assert_eq!(tags[0].items, vec!["agm", "1.1"]);
        assert_eq!(tags[1].items, vec!["master", "12", "13", "14"]);
        assert_eq!(tags[2].name(), "ray");
        let (p, tags) = parse_extra_networks("<lora:x:te=0.5:a=b=c> <:x> <a:> <b:c");
        assert_eq!(p, " <:x> <a:> <b:c");
        assert_eq!(tags[0].named(), vec![("te", "0.5")]);
        assert_eq!(tags[0].positional(), vec!["x", "a=b=c"]);
    }
}
