#!/usr/bin/env python3
"""Render `sdgate-bench/1` JSON files (from `sdgate bench`, baseline_torch.py, baseline_ort_python.py,
cpu_compare.py) as one Markdown report, and print a short comparison table.

    python benches/gpu/report.py OUT_DIR [more dirs or .json files] [--md REPORT.md]
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys


def label(r: dict) -> str:
    m = r.get("meta", {})
    if m.get("label"):
        return m["label"]
    model = m.get("model") or {}
    prec = (model.get("precision") or {}).get("unet", "")
    fused = " fused" if (model.get("graph_provider") or {}).get("unet") == "cuda" else ""
    return f"{r.get('tool', '?')} {prec}{fused}".strip()


def fmt(x, digits=None) -> str:
    if x is None:
        return "–"
    if digits is not None:
        return f"{x:.{digits}f}"
    ax = abs(x)
    return f"{x:.1f}" if ax >= 100 else f"{x:.2f}" if ax >= 1 else f"{x:.3f}"


def inside(e: dict):
    """Time inside the inference runtime per job: ORT (`ort_ms`) or torch modules (`module_ms`)."""
    return e.get("ort_ms") or e.get("module_ms")


def section(r: dict) -> str:
    m = r.get("meta", {})
    out = [f"## {label(r)}: {m.get('card', '?')} ({m.get('provider', '?')}), {m.get('date', '?')}", ""]
    if r.get("skipped"):
        return "\n".join(out + [f"Skipped: {r['skipped']}", ""])
    model = m.get("model") or {}
    out.append(f"- command: `{' '.join(m.get('command_line', []))}`")
    out.append(f"- commit: {m.get('git_commit') or 'unknown'}; versions: "
               f"{', '.join(f'{k} {v}' for k, v in (m.get('versions') or {}).items()) or '–'}")
    out.append(f"- model: {model.get('name', '?')} ({model.get('dir', '?')}), precision "
               f"{', '.join(f'{k} {v}' for k, v in (model.get('precision') or {}).items())}")
    out.append("")
    u = r.get("unet_steps")
    if u:
        out += [f"### UNet step, latent {u['latent'][0]}×{u['latent'][1]}, context {u['context_len']}×{u['hidden']}, "
                f"warm-up {u['warmup']}, {u['iters']} timed calls ({u.get('timed', '')})", "",
                "| rows (images) | median ms | p95 ms | in runtime ms | steps/s | image-steps/s | TFLOP/s | n |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in u["rows"]:
            ort = row.get("ort_ms")
            out.append(f"| {row['rows']} ({row['images']}) | {fmt(row['ms']['median'])} | {fmt(row['ms']['p95'])} | "
                       f"{fmt(ort['median'] if ort else None)} | {fmt(row['steps_per_s'])} | "
                       f"{fmt(row['image_steps_per_s'])} | {fmt(row.get('tflops'))} | {row['iters']} |")
        out.append("")
    e = r.get("e2e")
    if e:
        ins = inside(e)
        by = e.get("ort_ms_by_graph") or e.get("module_ms_by_graph") or {}
        g = lambda k: fmt(by[k]["median"]) if k in by else "–"  # noqa: E731
        out += [f"### End to end: {e['size'][0]}×{e['size'][1]}, {e['steps']} steps, {e['sampler']} / "
                f"{e.get('scheduler', '')}, CFG {e.get('cfg_scale')}, one job at a time ({e['runs']} runs, warm-up "
                f"{e['warmup']})", "",
                "| total p50 ms | total p95 ms | in runtime ms | UNet ms | text ms | VAE dec ms | outside ms | "
                "gateway overhead |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |",
                f"| {fmt(e['total_ms']['p50'])} | {fmt(e['total_ms']['p95'])} | "
                f"{fmt(ins['median'] if ins else None)} | {g('unet')} | {g('text_encoder')} | {g('vae_decoder')} | "
                f"{fmt((e.get('outside_ms') or {}).get('median'))} | "
                f"{fmt(100 * e['gateway_overhead']['median'], 1) + ' %' if e.get('gateway_overhead') else '–'} |", ""]
    h = r.get("http")
    if h:
        out += [f"### HTTP {h['endpoint']} {h['size'][0]}×{h['size'][1]}, {h['steps']} steps", "",
                "| max batch | clients | images/s | latency p50 ms | p95 ms | requests | errors |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for run in h["runs"]:
            lat = run.get("latency_ms") or {}
            out.append(f"| {run['max_batch']} | {run['clients']} | {fmt(run['images_per_s'])} | "
                       f"{fmt(lat.get('p50'))} | {fmt(lat.get('p95'))} | {run['requests']} | {run['errors']} |")
        for sp in h.get("speedup", []):
            out.append(f"\nSpeed-up {sp['clients']} vs {sp['over_clients']} clients (max batch {sp['max_batch']}): "
                       f"{sp['ratio']:.2f}×")
        out.append("")
    mem = r.get("memory") or {}
    parts = mem.get("parts") or []
    if isinstance(parts, dict):  # an early layout: {part: {...}}
        parts = [dict(v, part=k) for k, v in parts.items()]
    if mem:
        out.append(f"Peak memory: GPU {fmt(mem.get('gpu_peak_mib'), 0)} MiB (before: {fmt(mem.get('gpu_before_mib'), 0)}"
                   f" MiB), host RSS {fmt(mem.get('host_peak_rss_mib'))} MiB; per part: "
                   + "; ".join(f"{p['part']} GPU {fmt(p.get('gpu_peak_mib'), 0)} MiB" for p in parts))
        out.append("")
    for n in r.get("notes", []):
        out.append(f"- {n}")
    out.append("")
    return "\n".join(out)


def comparison(reports: list[dict]) -> str:
    """One table over every report: UNet median ms by rows, e2e p50/p95, overhead, best images/s."""
    rows = sorted({row["rows"] for r in reports if r.get("unet_steps") for row in r["unet_steps"]["rows"]})
    head = ["run", "card"] + [f"UNet {n} rows ms" for n in rows] + [
        "e2e p50 ms", "e2e p95 ms", "overhead", "images/s (clients)"]
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in reports:
        if r.get("skipped"):
            out.append("| " + " | ".join([label(r), "skipped: " + r["skipped"][:60]] + [""] * (len(head) - 2)) + " |")
            continue
        by_rows = {row["rows"]: row for row in (r.get("unet_steps") or {}).get("rows", [])}
        cells = [label(r), r.get("meta", {}).get("card", "?")]
        cells += [fmt(by_rows[n]["ms"]["median"]) if n in by_rows else "–" for n in rows]
        e = r.get("e2e")
        cells += [fmt(e["total_ms"]["p50"]) if e else "–", fmt(e["total_ms"]["p95"]) if e else "–",
                  f"{100 * e['gateway_overhead']['median']:.1f} %" if e and e.get("gateway_overhead") else "–"]
        h = r.get("http")
        cells.append(", ".join(f"{run['images_per_s']:.2f} ({run['clients']})" for run in h["runs"]) if h else "–")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def markdown(reports: list[dict]) -> str:
    parts = []
    if len(reports) > 1:
        parts += ["## Comparison", "", comparison(reports)]
    parts += [section(r) for r in reports]
    return "\n".join(parts)


def short_table(reports: list[dict]) -> str:
    lines = []
    for r in reports:
        name = f"{label(r):<30} "
        if r.get("skipped"):
            lines.append(f"{name} SKIPPED: {r['skipped']}")
            continue
        bits = []
        u = r.get("unet_steps")
        if u:
            bits.append("unet " + " ".join(f"{row['rows']}:{row['ms']['median']:.2f}ms" for row in u["rows"]))
        e = r.get("e2e")
        if e:
            ov = e.get("gateway_overhead")
            bits.append(f"e2e p50 {e['total_ms']['p50']:.1f} p95 {e['total_ms']['p95']:.1f} ms"
                        + (f" (outside runtime {100 * ov['median']:.1f} %)" if ov else ""))
        h = r.get("http")
        if h:
            bits.append("http " + " ".join(f"{run['clients']}c:{run['images_per_s']:.2f}img/s" for run in h["runs"]))
        lines.append(name + " | ".join(bits))
    return "\n".join(lines)


def load(paths: list[str]) -> list[dict]:
    files: list[str] = []
    for p in paths:
        files += sorted(glob.glob(os.path.join(p, "*.json"))) if os.path.isdir(p) else [p]
    reports = []
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                r = json.load(fh)
        except (OSError, ValueError) as e:
            print(f"warning: {f}: {e}", file=sys.stderr)
            continue
        if isinstance(r, dict) and r.get("schema") == "sdgate-bench/1":
            reports.append(r)
        elif isinstance(r, dict) and isinstance(r.get("reports"), list):  # cpu_compare.py's bundle
            reports += [x for x in r["reports"] if x.get("schema") == "sdgate-bench/1"]
    return reports


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", help="folders (every *.json) or JSON files")
    ap.add_argument("--md", help="write the combined Markdown here")
    a = ap.parse_args(argv)
    reports = load(a.paths)
    if not reports:
        print("no sdgate-bench/1 results found", file=sys.stderr)
        return 1
    if a.md:
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(markdown(reports))
    print(short_table(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
