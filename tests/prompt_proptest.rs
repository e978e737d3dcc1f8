//! Property tests: the prompt parsers and the pickle reader never panic, and keep their invariants.

use proptest::prelude::*;
use sdgate::prompt::ti::pickle::unpickle;
use sdgate::prompt::{
    ScheduleSteps, clean_text, parse_extra_networks, parse_prompt_attention, prompt_schedule, split_and, strip_comments,
};

/// Strings made mostly of the characters the prompt language cares about.
fn prompt_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(":".to_string()),
        Just("|".to_string()),
        Just("\\".to_string()),
        Just(" ".to_string()),
        Just("BREAK".to_string()),
        Just("AND".to_string()),
        Just("<lora:x:1>".to_string()),
        Just("#".to_string()),
        Just("\n".to_string()),
        "[0-9.eE+-]{1,4}",
        "[a-z]{1,3}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn attention_never_panics(s in prompt_like()) {
        if let Ok(frags) = parse_prompt_attention(&s) {
            prop_assert!(!frags.is_empty());
            for w in frags.windows(2) {
                prop_assert!(w[0].weight != w[1].weight);
            }
        }
    }

    #[test]
    fn attention_of_plain_text_is_itself(s in "[a-z ,.!?]{0,40}") {
        let frags = parse_prompt_attention(&s).unwrap();
        if !s.contains("BREAK") {
            prop_assert_eq!(frags.len(), 1);
            prop_assert_eq!(&frags[0].text, &s);
            prop_assert_eq!(frags[0].weight, 1.0);
        }
    }

    #[test]
    fn schedules_are_well_formed(s in prompt_like(), base in 1usize..30, hires in prop::option::of(1usize..30), old in any::<bool>()) {
        let steps = ScheduleSteps { base_steps: base, hires_steps: hires, use_old_scheduling: old };
        if let Ok(sched) = prompt_schedule(&s, steps) {
            prop_assert!(!sched.is_empty());
            prop_assert_eq!(sched.last().unwrap().end_at_step, steps.steps());
            for w in sched.windows(2) {
                prop_assert!(w[0].end_at_step < w[1].end_at_step);
            }
            prop_assert!(sched.iter().all(|e| e.end_at_step >= 1));
        }
    }

    #[test]
    fn text_without_brackets_is_not_scheduled(s in "[a-z ,.:]{0,40}") {
        let sched = prompt_schedule(&s, ScheduleSteps::new(10)).unwrap();
        prop_assert_eq!(sched.len(), 1);
        prop_assert_eq!(&sched[0].text, &s);
    }

    #[test]
    fn and_splitting_counts_parts(s in prompt_like()) {
        let parts = split_and(&s);
        prop_assert!(!parts.is_empty());
        prop_assert!(parts.len() <= s.matches("AND").count() + 1);
    }

    #[test]
    fn extra_networks_and_comments(s in prompt_like()) {
        let (text, tags) = parse_extra_networks(&s);
        prop_assert!(text.len() <= s.len());
        prop_assert!(tags.iter().all(|t| !t.kind.is_empty() && !t.items.is_empty()));
        prop_assert!(!strip_comments(&s).contains('#'));
        let _ = clean_text(&s);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash(n in 1usize..3000, open in prop_oneof![Just('('), Just('[')]) {
        let s: String = std::iter::repeat_n(open, n).collect::<String>() + "a";
        let _ = prompt_schedule(&s, ScheduleSteps::new(10));
        let _ = parse_prompt_attention(&s);
    }

    #[test]
    fn pickle_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = unpickle(&bytes);
    }

    #[test]
    fn pickle_reader_on_near_valid_input(prefix in prop::sample::select(vec![
        b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00NI01\neX\x01\x00\x00\x00bq\x03X\x01\x00\x00\x00xq\x04u.".to_vec(),
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00(X\x01\x00\x00\x000ctorch\nFloatStorage\n".to_vec(),
    ]), cut in 0usize..80, flip in any::<u8>(), at in 0usize..80) {
        let mut b = prefix.clone();
        b.truncate(cut.min(b.len()));
        if !b.is_empty() {
            let i = at % b.len();
            b[i] ^= flip;
        }
        let _ = unpickle(&b);
    }
}
