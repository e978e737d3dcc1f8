//! `sdgate bench` end to end on the embedded tiny model (CPU): a very short run of every part, then
//! the shape of the JSON it wrote. No timing is asserted.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn sdgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sdgate"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR")) // finds .ort/lib (scripts/setup-ort) or ORT_DYLIB_PATH
        .env("RUST_LOG", "warn")
        .output()
        .expect("running sdgate")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn summary_ok(v: &Value, n: u64) {
    assert_eq!(v["n"], n, "{v}");
    for k in ["median", "p50", "p95", "mean", "min", "max"] {
        assert!(v[k].as_f64().is_some_and(|x| x.is_finite() && x >= 0.0), "{k} in {v}");
    }
}

#[test]
fn a_short_bench_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let data = dir.path().join("data");
    let o = sdgate(&[
        "bench",
        "--size",
        "64",
        "--steps",
        "2",
        "--unet-rows",
        "2,4",
        "--unet-warmup",
        "1",
        "--unet-iters",
        "2",
        "--e2e-warmup",
        "1",
        "--e2e-runs",
        "2",
        "--http-clients",
        "1,2",
        "--http-requests",
        "2",
        "--max-batch",
        "1,2",
        "--unet-tflop-per-row",
        "0.001",
        "--card",
        "test card",
        "--tag",
        "t",
        "--out",
        out.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("results:"), "{stdout}");
    let r = read_json(&out.join("sdgate-t.json"));
    assert_eq!(r["schema"], "sdgate-bench/1");
    assert_eq!(r["tool"], "sdgate");
    let meta = &r["meta"];
    assert_eq!(meta["card"], "test card");
    assert_eq!(meta["provider"], "cpu");
    assert_eq!(meta["model"]["name"], "tiny-sd1");
    assert_eq!(meta["model"]["precision"]["unet"], "fp32");
    assert_eq!(meta["command_line"][1], "bench");
    assert!(meta["date"].as_str().is_some_and(|d| d.ends_with('Z')));

    let u = &r["unet_steps"];
    assert_eq!(u["latent"], serde_json::json!([32, 32]));
    assert_eq!(u["context_len"], 77);
    let rows = u["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, want) in rows.iter().zip([2, 4]) {
        assert_eq!(row["rows"], want);
        assert_eq!(row["images"], want / 2);
        assert_eq!(row["iters"], 2);
        summary_ok(&row["ms"], 2);
        summary_ok(&row["ort_ms"], 2);
        assert!(row["tflops"].as_f64().is_some());
        assert!(row["steps_per_s"].as_f64().is_some_and(|x| x > 0.0));
    }

    let e = &r["e2e"];
    assert_eq!(e["size"], serde_json::json!([64, 64]));
    assert_eq!(
        (e["steps"].as_u64(), e["runs"].as_u64(), e["max_batch"].as_u64()),
        (Some(2), Some(2), Some(1))
    );
    for k in ["total_ms", "ort_ms", "conversion_ms", "outside_ms", "gateway_overhead"] {
        summary_ok(&e[k], 2);
    }
    assert!(e["gateway_overhead"]["max"].as_f64().unwrap() <= 1.0);
    for g in ["unet", "text_encoder", "vae_decoder"] {
        summary_ok(&e["ort_ms_by_graph"][g], 2);
        assert!(e["graph_calls_per_job"][g].as_u64().unwrap() >= 1, "{g}");
    }
    assert!(
        e["ort_ms_by_graph"].get("vae_encoder").is_none(),
        "txt2img does not encode"
    );
    assert_eq!(e["total_ms_samples"].as_array().unwrap().len(), 2);
    assert_eq!(e["ort_ms_samples"].as_array().unwrap().len(), 2);

    let h = &r["http"];
    let runs = h["runs"].as_array().unwrap();
    let seen: Vec<(u64, u64)> = runs
        .iter()
        .map(|r| (r["max_batch"].as_u64().unwrap(), r["clients"].as_u64().unwrap()))
        .collect();
    assert_eq!(seen, vec![(1, 1), (1, 2), (2, 1), (2, 2)]);
    for run in runs {
        assert_eq!(run["errors"], 0, "{run}");
        assert_eq!(
            (run["requests"].as_u64(), run["images"].as_u64()),
            (Some(2), Some(2)),
            "{run}"
        );
        assert_eq!(run["mode"], "requests");
        summary_ok(&run["latency_ms"], 2);
    }
    assert_eq!(h["speedup"].as_array().unwrap().len(), 2);

    let parts: Vec<&str> = r["memory"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["part"].as_str().unwrap())
        .collect();
    assert_eq!(parts, vec!["unet", "e2e", "http-max-batch-1", "http-max-batch-2"]);
    assert!(r["memory"]["gpu_peak_mib"].is_null());
    assert!(r["memory"]["host_peak_rss_mib"].as_f64().is_some());

    let md = std::fs::read_to_string(out.join("sdgate-t.md")).unwrap();
    for heading in ["### UNet step", "### End to end", "### HTTP", "### Peak memory"] {
        assert!(md.contains(heading), "{heading}");
    }
    assert!(
        std::fs::read_to_string(out.join("REPORT.md"))
            .unwrap()
            .contains("### UNet step")
    );
}

#[test]
fn parts_can_be_chosen_and_bad_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let data = dir.path().join("data");
    let (out_s, data_s) = (out.to_str().unwrap(), data.to_str().unwrap());
    let o = sdgate(&[
        "bench",
        "--parts",
        "unet",
        "--unet-rows",
        "2",
        "--unet-warmup",
        "0",
        "--unet-iters",
        "1",
        "--out",
        out_s,
        "--data-dir",
        data_s,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = read_json(&out.join("sdgate-cpu-fp32.json"));
    assert_eq!(r["unet_steps"]["rows"].as_array().unwrap().len(), 1);
    assert!(r["e2e"].is_null() && r["http"].is_null());

    let o = sdgate(&["bench", "--size", "63", "--out", out_s, "--data-dir", data_s]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("vae_scale_factor"));
    let o = sdgate(&["bench", "--unet-rows", "0", "--out", out_s]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--unet-rows"));
    let o = sdgate(&["bench", "--parts", "gpu"]);
    assert!(!o.status.success(), "unknown part");
}
