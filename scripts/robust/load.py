"""Bounded load test of a running sdgate (started by scripts/load; see its header for how to run).

N concurrent clients (default 64) loop for a fixed duration over a mix of requests:
  txt2img   POST /sdapi/v1/txt2img (64x64, steps 2-4, batch 1-2)
  img2img   POST /sdapi/v1/img2img (a 64x64 PNG made here, base64)
  job       POST /v1/jobs, poll GET /v1/jobs/{id} until it ends, GET each image url
  progress  GET /sdapi/v1/progress
  gallery   GET /v1/gallery/images
A monitor samples the server's VmRSS (/proc/<pid>/status) and GET /ready (queue_depth, in_flight)
every second. Invariants checked (any violation -> exit 1):
  - no 5xx and no status outside each route's documented set
  - every accepted generation (200 / 202) ends with its images: lost jobs = 0
  - no job id is handed out twice
  - a 429 only while the queue can be full: at some moment between sending the refused request and
    receiving the 429, at least --queue-limit other accepted generations were outstanding
    client-side (sent, images not yet received); queue_depth from /ready never exceeds the limit
  - a single client alone never gets a 429 (checked before and after the load)
  - the server stays alive, /health 200 at the end
  - RSS bounded: max over the last quarter <= 1.5 x max over the first quarter + 200 MB
  - the gallery's total grew by exactly the number of images generated
Writes a JSON report and a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngutil import PNG_MAGIC, make_png  # noqa: E402

TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}
GEN_KINDS = ("txt2img", "img2img", "job")
# What each kind may answer without it being a violation.
ALLOWED = {
    "txt2img": {200, 429},
    "img2img": {200, 429},
    "job": {202, 429},
    "progress": {200},
    "gallery": {200},
}
WEIGHTS = {"txt2img": 30, "img2img": 20, "job": 25, "progress": 15, "gallery": 10}
GEN_TIMEOUT = 600.0  # long: a client that gives up closes its connection, which cancels the job


@dataclass
class Rec:
    kind: str
    status: int  # 0 = transport error
    t_send: float
    t_recv: float
    images: int = 0  # images delivered (generations)
    expected: int = 0
    job_id: str | None = None
    e2e: float | None = None  # native jobs: submit -> last image fetched
    error: str | None = None


@dataclass
class State:
    recs: list[Rec] = field(default_factory=list)
    # accepted generations: [t_send, t_done] client-side (t_done = images received / job seen ended)
    intervals: list[tuple[float, float]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (t, kB)
    ready: list[tuple[float, dict]] = field(default_factory=list)
    ready_latency: list[float] = field(default_factory=list)  # the monitor's GET /ready, seconds
    monitor_errors: list[str] = field(default_factory=list)

    def violate(self, msg: str) -> None:
        if len(self.violations) < 200:
            self.violations.append(msg)
        print(f"load: VIOLATION: {msg}", file=sys.stderr)


def gen_body(rng: random.Random) -> dict:
    return {
        "prompt": rng.choice(["a cat", "a red house by a lake", "(masterpiece:1.2), a dog", "sunset [over|under] sea"]),
        "negative_prompt": rng.choice(["", "lowres"]),
        "width": 64,
        "height": 64,
        "steps": rng.randint(2, 4),
        "batch_size": rng.randint(1, 2),
        "n_iter": 1,
        "seed": rng.randrange(0, 2**31),
        "sampler_name": rng.choice(["Euler a", "Euler", "DPM++ 2M"]),
        "cfg_scale": 7,
    }


def check_pngs_b64(images: list) -> int:
    ok = 0
    for s in images:
        try:
            if base64.b64decode(s[:24] + "=" * (-len(s[:24]) % 4))[:8] == PNG_MAGIC:
                ok += 1
        except Exception:
            pass
    return ok


class Load:
    def __init__(self, args: argparse.Namespace, client: httpx.AsyncClient, state: State):
        self.a = args
        self.c = client
        self.s = state
        self.png_b64 = base64.b64encode(make_png()).decode()

    async def _req(self, method: str, path: str, **kw) -> httpx.Response:
        return await self.c.request(method, path, **kw)

    async def sync_gen(self, kind: str, rng: random.Random) -> Rec:
        body = gen_body(rng)
        if kind == "img2img":
            body.update(init_images=[self.png_b64], denoising_strength=rng.choice([0.3, 0.5, 0.75]))
        t0 = time.monotonic()
        try:
            r = await self._req("POST", f"/sdapi/v1/{kind}", json=body, timeout=GEN_TIMEOUT)
        except httpx.HTTPError as e:
            return Rec(kind, 0, t0, time.monotonic(), error=f"{type(e).__name__}: {e}")
        t1 = time.monotonic()
        rec = Rec(kind, r.status_code, t0, t1, expected=body["batch_size"])
        if r.status_code == 200:
            rec.job_id = r.headers.get("x-job-id")
            try:
                imgs = r.json().get("images") or []
            except ValueError:
                imgs = []
            rec.images = check_pngs_b64(imgs)
            self.s.intervals.append((t0, t1))
        elif r.status_code == 429:
            if "retry-after" not in r.headers:
                self.s.violate(f"{kind}: 429 without Retry-After")
        return rec

    async def native_job(self, rng: random.Random) -> Rec:
        body = gen_body(rng)
        body["type"] = "txt2img" if rng.random() < 0.7 else "img2img"
        if body["type"] == "img2img":
            body.update(init_images=[self.png_b64], denoising_strength=0.5)
        t0 = time.monotonic()
        try:
            r = await self._req("POST", "/v1/jobs", json=body, timeout=60)
        except httpx.HTTPError as e:
            return Rec("job", 0, t0, time.monotonic(), error=f"{type(e).__name__}: {e}")
        t1 = time.monotonic()
        rec = Rec("job", r.status_code, t0, t1, expected=body["batch_size"])
        if r.status_code == 429:
            if "retry-after" not in r.headers:
                self.s.violate("job: 429 without Retry-After")
            return rec
        if r.status_code != 202:
            return rec
        job = r.json()
        rec.job_id = job.get("id")
        deadline = time.monotonic() + GEN_TIMEOUT
        view = job
        polls = 0
        while view.get("state") not in TERMINAL and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            polls += 1
            try:
                p = await self._req("GET", f"/v1/jobs/{rec.job_id}", timeout=60)
            except httpx.HTTPError as e:
                rec.error = f"poll: {type(e).__name__}: {e}"
                continue
            self.s.recs.append(Rec("job_poll", p.status_code, time.monotonic(), time.monotonic()))
            if p.status_code != 200:
                rec.error = f"poll answered {p.status_code}"
                if p.status_code == 404:
                    break  # the job vanished: counted as lost below
                continue
            view = p.json()
        t_end = time.monotonic()
        if view.get("state") != "succeeded":
            rec.error = rec.error or f"job {rec.job_id} ended {view.get('state')}: {view.get('error')}"
            self.s.intervals.append((t0, t_end))
            return rec
        got = 0
        for img in view.get("images") or []:
            try:
                f = await self._req("GET", img["url"], timeout=60)
            except httpx.HTTPError as e:
                rec.error = f"image fetch: {type(e).__name__}: {e}"
                continue
            if f.status_code == 200 and f.content[:8] == PNG_MAGIC:
                got += 1
            else:
                rec.error = f"image {img.get('url')} answered {f.status_code}"
        rec.images = got
        rec.e2e = time.monotonic() - t0
        self.s.intervals.append((t0, t_end))
        return rec

    async def simple_get(self, kind: str, rng: random.Random) -> Rec:
        if kind == "progress":
            path = "/sdapi/v1/progress" + ("?skip_current_image=true" if rng.random() < 0.5 else "")
        else:
            path = f"/v1/gallery/images?limit={rng.choice([1, 20, 50])}&offset={rng.choice([0, 0, 10])}"
        t0 = time.monotonic()
        try:
            r = await self._req("GET", path, timeout=60)
        except httpx.HTTPError as e:
            return Rec(kind, 0, t0, time.monotonic(), error=f"{type(e).__name__}: {e}")
        rec = Rec(kind, r.status_code, t0, time.monotonic())
        if r.status_code == 200:
            body = r.json()
            need = ("progress", "state") if kind == "progress" else ("images", "total")
            if not all(k in body for k in need):
                self.s.violate(f"{kind}: 200 body lacks {need}: {str(body)[:200]}")
        return rec

    async def one(self, kind: str, rng: random.Random) -> Rec:
        if kind in ("txt2img", "img2img"):
            return await self.sync_gen(kind, rng)
        if kind == "job":
            return await self.native_job(rng)
        return await self.simple_get(kind, rng)

    async def client(self, idx: int, deadline: float) -> None:
        rng = random.Random(self.a.seed * 1000 + idx)
        kinds, weights = zip(*WEIGHTS.items())
        while time.monotonic() < deadline:
            rec = await self.one(rng.choices(kinds, weights)[0], rng)
            self.s.recs.append(rec)
            if rec.status == 429:
                await asyncio.sleep(rng.uniform(0.2, 1.0))  # light back-off (Retry-After may be long)

    async def rss_sampler(self, pid: int, stop: asyncio.Event) -> None:
        """VmRSS of the server once a second (its own loop, so a slow HTTP answer can't delay it)."""
        while not stop.is_set():
            t = time.monotonic()
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.s.rss.append((t, int(line.split()[1])))
            except OSError as e:
                self.s.monitor_errors.append(f"rss: {e}")
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, 1.0 - (time.monotonic() - t)))
            except asyncio.TimeoutError:
                pass

    async def monitor(self, stop: asyncio.Event) -> None:
        """GET /ready once a second: queue_depth, in_flight, and how fast a trivial route answers."""
        while not stop.is_set():
            t = time.monotonic()
            try:
                t0 = time.monotonic()
                r = await self._req("GET", "/ready", timeout=10)
                self.s.ready_latency.append(time.monotonic() - t0)
                if r.status_code == 200:
                    self.s.ready.append((t, r.json()))
                else:
                    self.s.monitor_errors.append(f"/ready answered {r.status_code}")
            except httpx.HTTPError as e:
                self.s.monitor_errors.append(f"/ready: {type(e).__name__}")
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, 1.0 - (time.monotonic() - t)))
            except asyncio.TimeoutError:
                pass

    async def solo(self, label: str, n: int = 3) -> list[Rec]:
        """A single client alone: it must never see a 429."""
        out = []
        rng = random.Random(label)
        for kind in ["txt2img", "job", "img2img"][:n]:
            rec = await self.one(kind, rng)
            rec.kind = kind
            out.append(rec)
            self.s.recs.append(rec)
            if rec.status == 429:
                self.s.violate(f"single client ({label}) got 429 on {kind}")
        return out

    async def gallery_total(self) -> int | None:
        r = await self._req("GET", "/v1/gallery/images?limit=1", timeout=60)
        return r.json().get("total") if r.status_code == 200 else None


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def check_429s(state: State, queue_limit: int) -> tuple[int, int]:
    """Each 429 must fall where >= queue_limit accepted generations were outstanding client-side."""
    starts = sorted(s for s, _ in state.intervals)
    ends = sorted(e for _, e in state.intervals)

    def outstanding(t: float) -> int:  # intervals with start <= t <= end
        return bisect.bisect_right(starts, t) - bisect.bisect_left(ends, t)

    bad = 0
    n429 = 0
    for rec in state.recs:
        if rec.status != 429 or rec.kind not in GEN_KINDS:
            continue
        n429 += 1
        # The count can only peak at the send time or at an accepted send inside [t_send, t_recv].
        lo, hi = bisect.bisect_left(starts, rec.t_send), bisect.bisect_right(starts, rec.t_recv)
        best = max([outstanding(rec.t_send)] + [outstanding(t) for t in starts[lo:hi]])
        if best < queue_limit:
            bad += 1
            state.violate(
                f"429 on {rec.kind} with at most {best} generations outstanding (< queue limit {queue_limit})"
            )
    return n429, bad


def summarize(args, state: State, t_start: float, t_end: float, extra: dict) -> dict:
    load_recs = [r for r in state.recs if r.kind != "job_poll"]
    by_kind: dict[str, list[Rec]] = defaultdict(list)
    for r in load_recs:
        by_kind[r.kind].append(r)
    kinds = {}
    for k, rs in sorted(by_kind.items()):
        ok = [r.t_recv - r.t_send for r in rs if 200 <= r.status < 300]
        k429 = [r.t_recv - r.t_send for r in rs if r.status == 429]
        e2e = [r.e2e for r in rs if r.e2e is not None]
        kinds[k] = {
            "requests": len(rs),
            "status": dict(sorted(Counter(str(r.status) for r in rs).items())),
            "ok_latency_s": {f"p{p}": pct(ok, p) for p in (50, 95, 99)} | {"max": max(ok) if ok else None},
            "429_latency_s_p50": pct(k429, 50),
            "images": sum(r.images for r in rs),
        }
        if e2e:
            kinds[k]["end_to_end_s"] = {f"p{p}": pct(e2e, p) for p in (50, 95, 99)}
    polls = [r for r in state.recs if r.kind == "job_poll"]
    kinds["job_poll"] = {"requests": len(polls), "status": dict(Counter(str(r.status) for r in polls))}
    wall = t_end - t_start
    images = sum(r.images for r in load_recs if r.kind in GEN_KINDS)
    rss = [kb for _, kb in state.rss]
    depth = [d.get("queue_depth", 0) for _, d in state.ready]
    return {
        "config": {
            "clients": args.clients,
            "duration_s": args.seconds,
            "queue_limit": args.queue_limit,
            "seed": args.seed,
            "mix_weights": WEIGHTS,
            "request_shape": "64x64, steps 2-4, batch 1-2, n_iter 1",
        },
        "wall_s": round(wall, 1),
        "requests_total": len(load_recs) + len(polls),
        "requests_per_s": round((len(load_recs) + len(polls)) / wall, 2),
        "images_generated": images,
        "images_per_s": round(images / wall, 2),
        "kinds": kinds,
        "rss_mb": {
            "min": round(min(rss) / 1024, 1) if rss else None,
            "max": round(max(rss) / 1024, 1) if rss else None,
            "first": round(rss[0] / 1024, 1) if rss else None,
            "last": round(rss[-1] / 1024, 1) if rss else None,
            "samples": len(rss),
        },
        "queue_depth": {"max": max(depth) if depth else None, "samples": len(depth)},
        # GET /ready touches no store: its latency shows how loaded the HTTP workers / CPU are.
        "monitor_ready_latency_s": {f"p{p}": pct(state.ready_latency, p) for p in (50, 95, 99)},
        **extra,
        "violations": state.violations,
        "monitor_errors": state.monitor_errors[:20],
        "passed": not state.violations,
    }


def markdown(rep: dict) -> str:
    def f(x):
        return "-" if x is None else f"{x * 1000:.0f}"

    lines = [
        f"### sdgate load: {rep['config']['clients']} clients, {rep['config']['duration_s']} s, "
        f"queue limit {rep['config']['queue_limit']} — {'PASSED' if rep['passed'] else 'FAILED'}",
        "",
        "| kind | requests | statuses | ok p50 ms | ok p95 ms | ok p99 ms | images |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for k, v in rep["kinds"].items():
        if k == "job_poll":
            lines.append(f"| job_poll | {v['requests']} | {json.dumps(v['status'])} | | | | |")
            continue
        lat = v["ok_latency_s"]
        lines.append(
            f"| {k} | {v['requests']} | {json.dumps(v['status'])} | {f(lat['p50'])} | {f(lat['p95'])} | "
            f"{f(lat['p99'])} | {v['images']} |"
        )
        if "end_to_end_s" in v:
            e = v["end_to_end_s"]
            lines.append(f"| job (submit→images) | | | {f(e['p50'])} | {f(e['p95'])} | {f(e['p99'])} | |")
    r = rep["rss_mb"]
    inv = rep["invariants"]
    env = rep["environment"]
    lines += [
        "",
        f"- wall {rep['wall_s']} s; {rep['requests_total']} requests ({rep['requests_per_s']}/s); "
        f"{rep['images_generated']} images ({rep['images_per_s']}/s)",
        f"- RSS MB: min {r['min']}, max {r['max']}, first {r['first']}, last {r['last']} ({r['samples']} samples)",
        f"- queue depth max {rep['queue_depth']['max']} (limit {rep['config']['queue_limit']}); monitor GET /ready "
        f"p50 {f(rep['monitor_ready_latency_s']['p50'])} ms, p95 {f(rep['monitor_ready_latency_s']['p95'])} ms",
        f"- 429s {inv['responses_429']} (unexplained {inv['unexplained_429']}); 5xx {inv['responses_5xx']}; "
        f"unexpected statuses {inv['unexpected_status']}; transport errors {inv['transport_errors']}",
        f"- accepted generations {inv['accepted_generations']}, lost {inv['lost_jobs']}, duplicate ids "
        f"{inv['duplicate_job_ids']}",
        f"- gallery total grew by {inv['gallery_delta']} (images generated incl. single-client checks: "
        f"{inv['images_expected_in_gallery']})",
        f"- server alive after the run: {inv['server_alive']}, /health {inv['health_status']}",
        f"- machine: {env['cpus']} CPUs, load average {env['loadavg_1m_before']} before / "
        f"{env['loadavg_1m_after']} after; server used {env['server_cpu_s']} CPU-s "
        f"({env['server_cpu_s'] / rep['wall_s']:.2f} cores), the load client {env['client_cpu_s']} CPU-s",
    ]
    if rep["violations"]:
        lines += ["", "Violations:"] + [f"- {v}" for v in rep["violations"][:30]]
    return "\n".join(lines) + "\n"


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--auth", required=True, help="user:pass")
    ap.add_argument("--pid", type=int, required=True, help="the server's process id (for VmRSS)")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--queue-limit", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="JSON report path (a .md beside it gets the table)")
    a = ap.parse_args()

    user, _, pw = a.auth.partition(":")
    limits = httpx.Limits(max_connections=a.clients + 8, max_keepalive_connections=a.clients + 8)
    state = State()
    async with httpx.AsyncClient(base_url=a.url, auth=(user, pw), limits=limits, timeout=60) as client:
        load = Load(a, client, state)
        gallery_before = await load.gallery_total()
        solo_before = await load.solo("before")

        stop = asyncio.Event()
        mon = asyncio.gather(load.monitor(stop), load.rss_sampler(a.pid, stop))
        cpu0 = cpu_seconds(a.pid)
        load0 = os.getloadavg()
        t_start = time.monotonic()
        deadline = t_start + a.seconds
        print(f"load: {a.clients} clients for {a.seconds:.0f} s against {a.url} ...", file=sys.stderr)
        tasks = [asyncio.create_task(load.client(i, deadline)) for i in range(a.clients)]
        # Clients finish the request in hand after the deadline; bound that drain.
        done, pending = await asyncio.wait(tasks, timeout=a.seconds + 300)
        for t in pending:
            t.cancel()
        if pending:
            state.violate(f"{len(pending)} clients still busy 300 s after the deadline")
        for t in done:
            if t.exception():
                state.violate(f"client crashed: {t.exception()!r}")
        t_end = time.monotonic()
        stop.set()
        await mon
        env = {
            "cpus": os.cpu_count(),
            "loadavg_1m_before": round(load0[0], 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
            # Other work on the machine (a build, ...) competes for the same cores: read the
            # latencies with these in mind. Server CPU seconds / wall = cores the server used.
            "server_cpu_s": round(cpu_seconds(a.pid) - cpu0, 1),
            "client_cpu_s": round(sum(os.times()[:2]), 1),
        }

        solo_after = await load.solo("after")

        # Invariants over everything recorded.
        gens = [r for r in state.recs if r.kind in GEN_KINDS]
        accepted = [r for r in gens if r.status in (200, 202)]
        lost = [r for r in accepted if r.images != r.expected]
        for r in lost[:20]:
            state.violate(f"lost: {r.kind} job {r.job_id} accepted, {r.images}/{r.expected} images ({r.error})")
        ids = [r.job_id for r in accepted]
        if None in ids:
            state.violate(f"{ids.count(None)} accepted generations came without a job id")
        dup = [i for i, n in Counter(i for i in ids if i).items() if n > 1]
        for i in dup[:20]:
            state.violate(f"job id {i} handed out twice")
        all_recs = [r for r in state.recs]
        n5xx = sum(1 for r in all_recs if r.status >= 500)
        unexpected = [r for r in all_recs if r.kind in ALLOWED and r.status not in ALLOWED[r.kind] and r.status]
        unexpected += [r for r in all_recs if r.kind == "job_poll" and r.status != 200]
        for r in unexpected[:20]:
            state.violate(f"{r.kind} answered {r.status}")
        transport = [r for r in all_recs if r.status == 0]
        for r in transport[:10]:
            state.violate(f"{r.kind}: transport error {r.error}")
        n429, bad429 = check_429s(state, a.queue_limit)
        over = [d for _, d in state.ready if d.get("queue_depth", 0) > a.queue_limit]
        if over:
            state.violate(f"/ready reported queue_depth {max(d['queue_depth'] for d in over)} > {a.queue_limit}")

        # RSS bounded: compare the first and last quarters of the load window.
        rss_check = {}
        if len(state.rss) >= 8:
            q = len(state.rss) // 4
            first = max(kb for _, kb in state.rss[:q]) / 1024
            last = max(kb for _, kb in state.rss[-q:]) / 1024
            bound = 1.5 * first + 200
            rss_check = {"first_quarter_max_mb": round(first, 1), "last_quarter_max_mb": round(last, 1),
                         "bound_mb": round(bound, 1), "ok": last <= bound}
            if last > bound:
                state.violate(f"RSS grew: last-quarter max {last:.0f} MB > 1.5 x {first:.0f} + 200 MB")
        else:
            state.violate(f"only {len(state.rss)} RSS samples")

        # Server alive and healthy.
        alive = os.path.exists(f"/proc/{a.pid}") and open(f"/proc/{a.pid}/stat").read().split()[2] != "Z"
        try:
            health = (await client.get("/health", timeout=10)).status_code
        except httpx.HTTPError:
            health = 0
        if not alive or health != 200:
            state.violate(f"server alive={alive}, /health={health} after the run")

        # Every image saved to the gallery (saving may lag the response by a moment).
        expected_gallery = sum(r.images for r in state.recs if r.kind in GEN_KINDS)
        delta = None
        for _ in range(30):
            after = await load.gallery_total()
            delta = None if after is None or gallery_before is None else after - gallery_before
            if delta == expected_gallery:
                break
            await asyncio.sleep(0.5)
        if delta != expected_gallery:
            state.violate(f"gallery total grew by {delta}, but {expected_gallery} images were generated")

        rep = summarize(
            a,
            state,
            t_start,
            t_end,
            {
                "environment": env,
                "invariants": {
                    "accepted_generations": len(accepted),
                    "lost_jobs": len(lost),
                    "duplicate_job_ids": len(dup),
                    "responses_5xx": n5xx,
                    "unexpected_status": len(unexpected),
                    "transport_errors": len(transport),
                    "responses_429": n429,
                    "unexplained_429": bad429,
                    "single_client_statuses": [r.status for r in solo_before + solo_after],
                    "rss": rss_check,
                    "server_alive": alive,
                    "health_status": health,
                    "gallery_before": gallery_before,
                    "gallery_delta": delta,
                    "images_expected_in_gallery": expected_gallery,
                },
            },
        )
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(rep, f, indent=2)
        f.write("\n")
    md = markdown(rep)
    with open(os.path.splitext(a.out)[0] + ".md", "w") as f:
        f.write(md)
    print(md)
    return 0 if rep["passed"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
