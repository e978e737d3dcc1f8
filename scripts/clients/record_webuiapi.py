"""Record what the real webuiapi client sends: run webuiapi_session.py against a stub WebUI that
logs every request, and write tests/fixtures/clients/webuiapi.json (replayed by
tests/http_replay.rs). Needs `pip install webuiapi==0.9.17`.

    /work/main/.venv/bin/python scripts/clients/record_webuiapi.py
"""
import base64
import io
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "clients", "webuiapi.json")


def png_b64(w=64, h=64):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (1, 2, 3)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


TITLE_A, TITLE_B = "model-a [aaaaaaaaaa]", "model-b [bbbbbbbbbb]"
ANSWERS = {
    ("GET", "/sdapi/v1/sd-models"): [{"title": TITLE_A, "model_name": "model-a", "hash": "aaaaaaaaaa", "sha256": "a" * 64,
                                      "filename": "a", "config": None},
                                     {"title": TITLE_B, "model_name": "model-b", "hash": "bbbbbbbbbb", "sha256": "b" * 64,
                                      "filename": "b", "config": None}],
    ("GET", "/sdapi/v1/options"): {"sd_model_checkpoint": TITLE_A, "sd_checkpoint_hash": "a" * 64},
    ("GET", "/sdapi/v1/samplers"): [{"name": "Euler a", "aliases": [], "options": {}}],
    ("GET", "/sdapi/v1/schedulers"): [{"name": "automatic", "label": "Automatic", "aliases": None, "default_rho": -1,
                                       "need_inner_model": False}],
    ("GET", "/sdapi/v1/scripts"): {"txt2img": [], "img2img": []},
    ("GET", "/sdapi/v1/embeddings"): {"loaded": {}, "skipped": {}},
    ("GET", "/sdapi/v1/memory"): {"ram": {}, "cuda": {}},
    ("GET", "/sdapi/v1/cmd-flags"): {},
    ("GET", "/sdapi/v1/progress"): {"progress": 0, "eta_relative": 0, "state": {"job_count": 0}, "current_image": None,
                                    "textinfo": None},
    ("POST", "/sdapi/v1/png-info"): {"info": "", "items": {}, "parameters": {}},
    ("POST", "/sdapi/v1/interrupt"): {},
}


class Handler(BaseHTTPRequestHandler):
    log = []

    def log_message(self, *args):
        pass

    def _answer(self, method):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        entry = {"method": method, "path": self.path}
        if "authorization" in self.headers:
            entry["authorization"] = self.headers["authorization"]
        if body:
            entry["body"] = json.loads(body)
        Handler.log.append(entry)
        status, answer = 200, ANSWERS.get((method, self.path), [] if method == "GET" else None)
        if self.path.endswith(("/txt2img", "/img2img")):
            size = 128 if (entry.get("body") or {}).get("enable_hr") else 64
            answer = {"images": [png_b64(size, size)], "parameters": {}, "info": "{}"}
        if self.path.endswith("/extra-single-image"):
            status, answer = 501, {"error": "NotImplemented"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    subprocess.run([sys.executable, os.path.join(HERE, "webuiapi_session.py"), "--port", str(port), "--user", "user",
                    "--password", "pass", "--record-mode"], check=True)
    server.shutdown()
    import webuiapi  # noqa: F401  (the version goes into the fixture)
    from importlib.metadata import version
    fixture = {"client": "webuiapi", "version": version("webuiapi"),
               "recorded_by": "scripts/clients/record_webuiapi.py", "calls": Handler.log}
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(Handler.log)} calls to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
