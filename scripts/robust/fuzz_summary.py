"""Summarise one scripts/fuzz-api run into a JSON file (and print it briefly).

Inputs: schemathesis's JSON report and NDJSON event log, the per-request log written by
fuzz_hooks.after_call, the failures fuzz_hooks.filter_failure dropped, the committed spec and the
spec the server served. Exit 1 when the run failed: schemathesis reported failures or errors, the
server died, or /health was not 200 afterwards.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shlex
import sys
from collections import Counter, defaultdict


def decode_body(body) -> str | None:
    if body is None:
        return None
    if isinstance(body, dict) and "$base64" in body:
        raw = base64.b64decode(body["$base64"])
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return None
    if isinstance(body, dict) and "string" in body:
        return body["string"]
    return None


def curl_for(request: dict) -> str:
    uri = re.sub(r"^https?://[^/]+", "$URL", request.get("uri", ""))
    parts = ["curl", "-sS", "-u", '"$AUTH"', "-X", request.get("method", "GET")]
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in ("authorization", "content-length", "user-agent", "accept-encoding", "accept",
                            "connection", "x-schemathesis-testcaseid"):
            continue
        for v in values if isinstance(values, list) else [values]:
            parts += ["-H", shlex.quote(f"{name}: {v}")]
    body = decode_body(request.get("body"))
    if body is not None:
        if len(body) > 2000:
            body = body[:2000] + "...(truncated)"
        parts += ["--data-binary", shlex.quote(body)]
    parts.append(f'"{uri}"' if "'" not in uri else shlex.quote(uri))
    return " ".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--ndjson", required=True)
    ap.add_argument("--calls", required=True)
    ap.add_argument("--dropped", default=None)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--served-spec", required=True)
    ap.add_argument("--schemathesis-exit", type=int, required=True)
    ap.add_argument("--server-alive", required=True)
    ap.add_argument("--health", required=True)
    ap.add_argument("--elapsed", type=int, required=True)
    ap.add_argument("--max-examples", type=int, required=True)
    ap.add_argument("--max-time", type=int, required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--binary", default=None)
    ap.add_argument("--server-flags", default=None)
    ap.add_argument("--checks", default=None)
    ap.add_argument("--server-log", default=None)
    ap.add_argument("--baseline", default=None, help="the schemathesis baseline file the run accepted")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    try:
        with open(a.report) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        report = {"error": f"no schemathesis report: {e}"}

    # Requests as sent (after_call log): operation template, status, seconds, method sent, URL.
    per_op: dict[str, Counter] = defaultdict(Counter)
    other_methods: Counter = Counter()
    total = 0
    slowest: list[tuple[float, str]] = []
    try:
        with open(a.calls) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 4:
                    continue
                method, path, status, secs = parts[:4]
                sent = parts[4] if len(parts) > 4 else method
                total += 1
                op = f"{method} {path}"
                per_op[op][status] += 1
                if sent != method:
                    other_methods[f"{sent}->{status}"] += 1
                slowest.append((float(secs), op))
    except OSError:
        pass
    slowest.sort(reverse=True)

    # Checks and failures from the NDJSON event log.
    check_counts: dict[str, Counter] = defaultdict(Counter)
    failures: dict[tuple, dict] = {}
    try:
        with open(a.ndjson) as f:
            for line in f:
                ev = json.loads(line)
                sc = ev.get("ScenarioFinished")
                if not sc:
                    continue
                rec = sc.get("recorder") or {}
                for case_id, checks in (rec.get("checks") or {}).items():
                    for ch in checks:
                        check_counts[ch["name"]][ch["status"]] += 1
                        if ch["status"] != "failure":
                            continue
                        fail = ((ch.get("failure_info") or {}).get("failure")) or {}
                        inter = (rec.get("interactions") or {}).get(case_id) or {}
                        resp = inter.get("response") or {}
                        msg = (fail.get("message") or "").strip()
                        # Group like schemathesis does: by operation, failure code and the gist of the message.
                        gist = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", msg.splitlines()[0] if msg else "")
                        key = (fail.get("operation") or rec.get("label"), fail.get("code"), fail.get("title"), gist)
                        if key in failures:
                            failures[key]["count"] += 1
                            continue
                        body = decode_body(resp.get("content"))
                        failures[key] = {
                            "operation": key[0],
                            "check": ch["name"],
                            "code": fail.get("code"),
                            "title": fail.get("title"),
                            "severity": fail.get("severity"),
                            "message": msg[:1500],
                            "count": 1,
                            "phase": sc.get("phase"),
                            "status": resp.get("status_code"),
                            "response_excerpt": body[:600] if body else None,
                            "reproduce": curl_for(inter.get("request") or {}) if inter.get("request") else None,
                            "_type": fail.get("type"),
                        }
    except OSError:
        pass

    # Failures accepted through a baseline file (schemathesis decides; this only labels them).
    known: dict[tuple, str] = {}
    if a.baseline:
        try:
            with open(a.baseline) as f:
                for e in json.load(f).get("entries", []):
                    known[(e.get("operation"), e.get("check"), e.get("failure"))] = e.get("finding") or "baseline"
        except (OSError, ValueError):
            pass
    for fl in failures.values():
        fl["known"] = known.get((fl["operation"], fl["check"], fl.pop("_type", None)))

    dropped: Counter = Counter()
    if a.dropped:
        try:
            with open(a.dropped) as f:
                dropped.update(line.strip() for line in f if line.strip())
        except OSError:
            pass

    # Drift between the committed spec and what the server serves.
    try:
        with open(a.spec) as f:
            committed = json.load(f)
        with open(a.served_spec) as f:
            served = json.load(f)
        drift = committed != served
        cp, sp = committed.get("paths", {}), served.get("paths", {})
        drift_paths = sorted(p for p in set(cp) | set(sp) if cp.get(p) != sp.get(p))
        drift_schemas = sorted(
            k
            for k in set(committed.get("components", {}).get("schemas", {}))
            | set(served.get("components", {}).get("schemas", {}))
            if committed.get("components", {}).get("schemas", {}).get(k)
            != served.get("components", {}).get("schemas", {}).get(k)
        )
    except (OSError, ValueError) as e:
        drift, drift_paths, drift_schemas = None, [], [f"could not compare: {e}"]

    # The server's own log: panics fail the run; ERROR/WARN lines are grouped for the report.
    panics: list[str] = []
    log_levels: dict[str, Counter] = {"ERROR": Counter(), "WARN": Counter()}
    if a.server_log:
        try:
            with open(a.server_log, errors="replace") as f:
                for raw in f:
                    line = re.sub(r"\x1b\[[0-9;]*m", "", raw).strip()
                    if "panicked" in line:
                        panics.append(line[:500])
                    m = re.match(r"\S+\s+(ERROR|WARN)\s+(.*)", line)
                    if m:
                        gist = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", m.group(2))
                        gist = re.sub(r"\d+(\.\d+)?", "N", gist)[:200]
                        log_levels[m.group(1)][gist] += 1
        except OSError:
            pass

    alive = a.server_alive == "true"
    health = int(a.health) if a.health.isdigit() else 0
    st_failed = a.schemathesis_exit != 0
    problems = []
    if st_failed:
        problems.append(f"schemathesis exited {a.schemathesis_exit} ({len(failures)} unique failures)")
    if not alive:
        problems.append("the server process died during the run")
    if health != 200:
        problems.append(f"GET /health answered {health or 'nothing'} after the run")
    if panics:
        problems.append(f"the server logged {len(panics)} panic(s)")

    ops = report.get("operations") or {}
    summary = {
        "passed": not problems,
        "problems": problems,
        "schemathesis_version": report.get("schemathesis_version"),
        "settings": {
            "max_examples_per_operation": a.max_examples,
            "max_time_s": a.max_time,
            "seed": a.seed,
            "checks": a.checks.split(",") if a.checks else None,
            "server_flags": a.server_flags,
        },
        "elapsed_s": a.elapsed,
        "schemathesis_running_time_s": report.get("running_time"),
        "stop_reason": report.get("stop_reason"),
        "operations": {k: ops.get(k) for k in ("total", "selected", "tested", "errored", "skipped")},
        "phases": report.get("phases"),
        "test_cases": report.get("test_cases"),
        "requests": total,
        "requests_with_unspecified_method": dict(other_methods),
        "checks_run": {k: dict(v) for k, v in sorted(check_counts.items())},
        "failure_groups": report.get("failures"),
        "failures": sorted(failures.values(), key=lambda x: (x["operation"] or "", x["code"] or "")),
        "baseline": {"file": a.baseline, **(report.get("baseline") or {})} if a.baseline else None,
        "errors": report.get("errors"),
        "dropped_by_filter_failure": dict(dropped),
        "warnings": report.get("warnings"),
        "server_panics": panics[:20],
        "server_log_errors": dict(log_levels["ERROR"].most_common(20)),
        "server_log_warnings": dict(log_levels["WARN"].most_common(20)),
        "server_alive_after": alive,
        "health_after": health,
        "committed_spec_matches_served": None if drift is None else not drift,
        "spec_drift": {"paths": drift_paths, "schemas": drift_schemas} if drift else None,
        "slowest_requests": [{"s": s, "operation": op} for s, op in slowest[:5]],
        "per_operation": {op: dict(sorted(c.items())) for op, c in sorted(per_op.items())},
    }
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    tc = report.get("test_cases") or {}
    print(f"\nfuzz-api: {'PASSED' if summary['passed'] else 'FAILED'} in {a.elapsed} s")
    print(f"  operations tested {ops.get('tested')}/{ops.get('total')}; test cases {tc.get('generated')}; "
          f"requests {total}")
    print("  checks: " + ", ".join(f"{k} {dict(v)}" for k, v in sorted(check_counts.items())))
    print(f"  server alive {alive}, /health {health}; committed spec == served: {summary['committed_spec_matches_served']}")
    if dropped:
        print(f"  dropped (documented 5xx): {dict(dropped)}")
    for fl in summary["failures"]:
        label = f"KNOWN ({fl['known']})" if fl.get("known") else "FAILURE"
        print(f"  {label} {fl['code']} {fl['title']} on {fl['operation']} (x{fl['count']}, status {fl['status']})")
        print("    " + (fl["message"].splitlines() or [""])[0][:200])
        if fl["reproduce"]:
            print(f"    {fl['reproduce'][:400]}")
    for p in problems:
        print(f"  PROBLEM: {p}")
    print(f"  summary written to {a.out}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
