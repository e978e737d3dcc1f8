//! STUB until images lands: the WebUI's infotext parser, with the signature the API layer compiles
//! against (the WebUI's `parse_generation_parameters`: "Prompt", "Negative prompt", then each
//! "Key: value" of the last line; "WxH" values also as Key-1/Key-2).

pub fn parse(text: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    let mut lines: Vec<&str> = text.trim().lines().collect();
    let last = lines.last().copied().unwrap_or("");
    let params: Vec<(String, String)> = last
        .split(", ")
        .filter_map(|kv| kv.split_once(": "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect();
    if params.len() >= 3 {
        lines.pop();
    }
    let mut prompt = Vec::new();
    let mut negative = Vec::new();
    let mut in_negative = false;
    for line in lines {
        if let Some(rest) = line.strip_prefix("Negative prompt:") {
            in_negative = true;
            negative.push(rest.trim_start());
        } else if in_negative {
            negative.push(line);
        } else {
            prompt.push(line);
        }
    }
    out.insert("Prompt".into(), prompt.join("\n").into());
    out.insert("Negative prompt".into(), negative.join("\n").into());
    if params.len() >= 3 {
        for (k, v) in params {
            if let Some((a, b)) = v.split_once('x')
                && a.parse::<u32>().is_ok()
                && b.parse::<u32>().is_ok()
            {
                out.insert(format!("{k}-1"), a.into());
                out.insert(format!("{k}-2"), b.into());
            }
            out.insert(k, v.into());
        }
    }
    out
}
