#!/usr/bin/env python3
"""HTTP load against a running sdgate: N concurrent clients POST /sdapi/v1/txt2img for a duration.

Stdlib only (runs on the GPU machine's bare Python). Prints one JSON object:
{clients, seconds, images, images_per_s, latency_p50, latency_p95, errors, devices_seen}.
devices_seen: for each device of /ready, whether it was observed with active jobs (multi-GPU check).

    python3 benches/gpu/http_load.py --port 7860 --clients 16 --seconds 60 --size 512 --steps 20
"""
import argparse
import json
import statistics
import threading
import time
import urllib.request


def post(url, body, timeout):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--sampler", default="Euler")
    args = ap.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    body = {"prompt": "a photo of a cat", "negative_prompt": "blurry", "steps": args.steps, "width": args.size,
            "height": args.size, "sampler_name": args.sampler, "seed": 1234}
    lat, errors, lock = [], [], threading.Lock()
    stop = time.monotonic() + args.seconds
    seen = {}

    def client(i):
        n = 0
        while time.monotonic() < stop:
            t0 = time.monotonic()
            try:
                status, _ = post(base + "/sdapi/v1/txt2img", dict(body, seed=1234 + 1000 * i + n), 600)
                ok = status == 200
            except Exception as e:  # noqa: BLE001 - any failure is counted
                ok, status = False, repr(e)
            dt = time.monotonic() - t0
            with lock:
                (lat.append(dt) if ok else errors.append(str(status)))
            n += 1

    def watch():
        while time.monotonic() < stop:
            try:
                for d in get_json(base + "/ready").get("devices", []):
                    if d.get("active_jobs", 0) > 0:
                        seen[d["device"]] = True
                    else:
                        seen.setdefault(d["device"], False)
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    w = threading.Thread(target=watch)
    t0 = time.monotonic()
    for t in threads + [w]:
        t.start()
    for t in threads + [w]:
        t.join()
    elapsed = time.monotonic() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None  # noqa: E731
    print(json.dumps({
        "clients": args.clients, "seconds": round(elapsed, 2), "images": len(lat),
        "images_per_s": round(len(lat) / elapsed, 3), "latency_p50": q(0.5), "latency_p95": q(0.95),
        "latency_mean": statistics.mean(lat) if lat else None, "errors": len(errors),
        "error_samples": errors[:3], "size": args.size, "steps": args.steps, "sampler": args.sampler,
        "devices_seen": seen,
    }))


if __name__ == "__main__":
    main()
