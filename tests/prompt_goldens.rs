//! The prompt parsers against the WebUI's own functions (tests/fixtures/prompt/parser.json, made by
//! scripts/goldens/prompt_parser.py).

use sdgate::prompt::{ScheduleSteps, parse_prompt_attention, prompt_schedule, split_and, strip_comments};
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/prompt/parser.json"
    ))
    .expect("parser.json");
    serde_json::from_str(&text).expect("parser.json is JSON")
}

fn steps(case: &Value) -> ScheduleSteps {
    ScheduleSteps {
        base_steps: case["base_steps"].as_u64().unwrap() as usize,
        hires_steps: case["hires_steps"].as_u64().map(|h| h as usize),
        use_old_scheduling: case["use_old_scheduling"].as_bool().unwrap(),
    }
}

fn schedule_json(prompt: &str, steps: ScheduleSteps) -> Value {
    let s = prompt_schedule(prompt, steps).unwrap_or_else(|e| panic!("{prompt:?}: {e}"));
    Value::Array(
        s.into_iter()
            .map(|e| serde_json::json!([e.end_at_step, e.text]))
            .collect(),
    )
}

#[test]
fn schedules_match_the_webui() {
    let f = fixture();
    let cases = f["schedules"].as_array().unwrap();
    assert!(cases.len() > 800);
    let mut bad = Vec::new();
    for case in cases {
        let prompt = case["prompt"].as_str().unwrap();
        let got = schedule_json(prompt, steps(case));
        if got != case["schedule"] {
            bad.push(format!(
                "{prompt:?} {:?}: want {} got {got}",
                steps(case),
                case["schedule"]
            ));
        }
    }
    assert!(bad.is_empty(), "{} mismatches:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn ambiguous_schedules_give_one_of_the_webui_answers() {
    let f = fixture();
    for case in f["ambiguous_schedules"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let got = schedule_json(prompt, steps(case));
        let answers = case["answers"].as_array().unwrap();
        assert!(answers.contains(&got), "{prompt:?}: {got} not among {answers:?}");
    }
}

#[test]
fn attention_matches_the_webui() {
    let f = fixture();
    let mut bad = Vec::new();
    for case in f["attention"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let got = parse_prompt_attention(prompt);
        if case.get("error").is_some() {
            if got.is_ok() {
                bad.push(format!("{prompt:?}: the WebUI raises, we accepted it"));
            }
            continue;
        }
        let want = case["fragments"].as_array().unwrap();
        let got = got.unwrap_or_else(|e| panic!("{prompt:?}: {e}"));
        let same = got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| g.text == w[0].as_str().unwrap() && (g.weight - w[1].as_f64().unwrap()).abs() <= 1e-9);
        if !same {
            bad.push(format!("{prompt:?}: want {want:?} got {got:?}"));
        }
    }
    assert!(bad.is_empty(), "{} mismatches:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn and_splitting_matches_the_webui() {
    let f = fixture();
    for case in f["and"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let got: Vec<Value> = split_and(prompt)
            .into_iter()
            .map(|s| serde_json::json!([s.text, s.weight]))
            .collect();
        let want = case["parts"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{prompt:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g[0], w[0], "{prompt:?}");
            assert!(
                (g[1].as_f64().unwrap() - w[1].as_f64().unwrap()).abs() < 1e-12,
                "{prompt:?}"
            );
        }
    }
}

#[test]
fn comments_match_the_webui() {
    let f = fixture();
    for case in f["comments"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        assert_eq!(strip_comments(prompt), case["stripped"].as_str().unwrap(), "{prompt:?}");
    }
}
