# Shared by scripts/fuzz-api and scripts/load (sourced, not run). Provides:
#   robust_venv            .cache/robust-venv with scripts/robust/requirements.txt (re-created when
#                          the file's hash changes); sets $py
#   robust_binary          the sdgate binary: $SDGATE_BIN if set, else `cargo build --locked --bin sdgate`
#                          (skipped with ROBUST_NO_BUILD=1) and ${CARGO_TARGET_DIR:-target}/debug/sdgate;
#                          sets $bin
#   robust_start_server    starts `sdgate serve` on the embedded tiny model on a free loopback port
#                          with a temporary --data-dir and random --api-auth credentials, plus any
#                          extra flags given; waits for /ready = 200; sets $url $auth $pid $data $log.
#                          An EXIT trap stops the server and removes the temporary folder.
# The caller must have done `cd` to the repository root (the server finds .ort/lib from there).

say() { echo "${ROBUST_NAME:-robust}: $*" >&2; }

robust_venv() {
  local venv=.cache/robust-venv req=scripts/robust/requirements.txt want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [[ ! -x $venv/bin/python || ! -f $venv/.requirements.sha256 || $(cat "$venv/.requirements.sha256") != "$want" ]]; then
    say "installing $req into $venv (schemathesis, httpx; about 30 s on first use) ..."
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$req"
    echo "$want" >"$venv/.requirements.sha256"
  fi
  py=$PWD/$venv/bin/python
}

robust_binary() {
  if [[ -n ${SDGATE_BIN:-} ]]; then
    bin=$SDGATE_BIN
  else
    if [[ -z ${ROBUST_NO_BUILD:-} ]]; then
      say "building sdgate"
      cargo build --locked --bin sdgate
    fi
    bin=${CARGO_TARGET_DIR:-$PWD/target}/debug/sdgate
  fi
  [[ -x $bin ]] || { say "no sdgate binary at $bin (set SDGATE_BIN)"; exit 1; }
}

robust_cleanup() {
  if [[ -n ${pid:-} ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  [[ -n ${data:-} ]] && rm -rf "$data"
  return 0
}

# robust_start_server [extra sdgate serve flags...]
robust_start_server() {
  local port started
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  data=$(mktemp -d "${TMPDIR:-/tmp}/sdgate-${ROBUST_NAME:-robust}.XXXXXX")
  auth="robust:$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  log=$data/server.log
  trap robust_cleanup EXIT
  "$bin" serve --port "$port" --data-dir "$data/data" --api-auth "$auth" "$@" >"$log" 2>&1 &
  pid=$!
  url=http://127.0.0.1:$port
  started=$(date +%s)
  until python3 - "$url/ready" "$auth" <<'PY' 2>/dev/null; do
import base64, sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Basic " + base64.b64encode(sys.argv[2].encode()).decode()})
urllib.request.urlopen(req, timeout=2)
PY
    if ! kill -0 "$pid" 2>/dev/null; then say "the server stopped:"; cat "$log" >&2; exit 1; fi
    if (($(date +%s) - started > 120)); then say "the server did not get ready in 120 s:"; cat "$log" >&2; exit 1; fi
    sleep 0.5
  done
  say "server (pid $pid) ready at $url after $(($(date +%s) - started)) s"
}

# robust_alive: whether the server process still runs (a dead child stays a zombie until waited for).
robust_alive() {
  [[ -r /proc/$pid/stat ]] && [[ $(awk '{print $3}' "/proc/$pid/stat") != Z ]]
}

# robust_get PATH [OUTFILE]: GET $url$PATH with the credentials; prints the status (0: no answer).
robust_get() {
  python3 - "$url$1" "$auth" "${2:-/dev/null}" <<'PY'
import base64, sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Basic " + base64.b64encode(sys.argv[2].encode()).decode()})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        status, body = r.status, r.read()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
except Exception:
    status, body = 0, b""
open(sys.argv[3], "wb").write(body)
print(status)
PY
}
