//! The page's files, embedded in the binary (no CDN, nothing fetched at run time), and the UI
//! strings per language.
//!
//! Adding a language: put `assets/locales/<code>.json` (the same keys as en.json; `_name` is the
//! language's own name for the switch) and add its code to the `locales!` list below. A unit test
//! fails when a file in assets/locales is missing from the list or lacks keys.

/// (name, content type, bytes) of the files under /gallery/assets/.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/gallery/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/gallery/app.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/gallery/favicon.svg"),
    ),
];

/// The page itself (placeholders `{{lang}}` and `{{boot}}`).
pub const INDEX_HTML: &str = include_str!("../../assets/gallery/index.html");

macro_rules! locales {
    ($($code:literal),* $(,)?) => {
        &[$(($code, include_str!(concat!("../../assets/locales/", $code, ".json")))),*]
    };
}

/// (code, JSON strings) of every language; the first is the default.
pub const LOCALES: &[(&str, &str)] = locales!["en", "zh-CN"];

/// An embedded asset by name.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, mime, bytes)| (*mime, *bytes))
}

/// A language's strings by code (case-insensitive).
pub fn locale(code: &str) -> Option<(&'static str, &'static str)> {
    LOCALES.iter().copied().find(|(c, _)| c.eq_ignore_ascii_case(code))
}

/// A language's own name (its `_name` string).
pub fn locale_name(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("_name").and_then(|n| n.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// The best language for an Accept-Language header: by quality, an exact tag first, then the
/// primary subtag (`zh-TW` → `zh-CN` when only that exists, `en-US` → `en`); else the default.
pub fn negotiate(accept_language: Option<&str>) -> &'static str {
    let default = LOCALES[0].0;
    let Some(header) = accept_language else {
        return default;
    };
    let mut tags: Vec<(f32, usize, &str)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut it = part.split(';');
            let tag = it.next()?.trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, tag) in tags {
        if tag == "*" {
            return default;
        }
        if let Some((code, _)) = locale(tag) {
            return code;
        }
        let primary = tag.split('-').next().unwrap_or(tag);
        if let Some((code, _)) = LOCALES
            .iter()
            .find(|(c, _)| c.split('-').next().is_some_and(|p| p.eq_ignore_ascii_case(primary)))
        {
            return code;
        }
    }
    default
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(json: &str) -> BTreeSet<String> {
        let v: serde_json::Value = serde_json::from_str(json).expect("a locale file is JSON");
        let obj = v.as_object().expect("a locale file is an object");
        for (k, v) in obj {
            assert!(v.is_string(), "{k} is not a string");
        }
        obj.keys().cloned().collect()
    }

    #[test]
    fn every_locale_file_is_listed_and_complete() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/locales");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect();
        files.sort();
        let mut listed: Vec<String> = LOCALES.iter().map(|(c, _)| c.to_string()).collect();
        listed.sort();
        assert_eq!(files, listed, "add the new locale file to the locales! list");
        let en = keys(LOCALES[0].1);
        for (code, json) in LOCALES {
            assert_eq!(keys(json), en, "{code} has other keys than en");
            assert!(!locale_name(json).is_empty(), "{code} has no _name");
        }
    }

    #[test]
    fn the_page_references_only_embedded_assets() {
        for (name, _, bytes) in ASSETS {
            assert!(!bytes.is_empty(), "{name}");
        }
        for (i, _) in INDEX_HTML.match_indices("/gallery/assets/") {
            let rest = &INDEX_HTML[i + "/gallery/assets/".len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            assert!(asset(&name).is_some(), "{name}");
        }
        assert!(
            !INDEX_HTML.contains("http://") && !INDEX_HTML.contains("https://"),
            "no CDN"
        );
    }

    #[test]
    fn accept_language() {
        assert_eq!(negotiate(None), "en");
        assert_eq!(negotiate(Some("zh-CN,zh;q=0.9,en;q=0.8")), "zh-CN");
        assert_eq!(negotiate(Some("zh-TW")), "zh-CN");
        assert_eq!(negotiate(Some("fr-FR, en-US;q=0.5")), "en");
        assert_eq!(negotiate(Some("en;q=0.5, zh;q=0.9")), "zh-CN");
        assert_eq!(negotiate(Some("zh;q=0, en")), "en");
        assert_eq!(negotiate(Some("de, *;q=0.1")), "en");
        assert_eq!(negotiate(Some(";;,,q=")), "en");
        assert_eq!(locale("ZH-cn").map(|l| l.0), Some("zh-CN"));
    }
}
