#!/usr/bin/env bash
# Start (or stop) a local moto server for s3fix's AWS adapter tests.
#
#   eval "$(scripts/moto.sh)"      start on MOTO_PORT (default 5055), export S3FIX_TEST_ENDPOINT
#   scripts/moto.sh stop           stop the server this script started
#
# moto comes from .venv (created with `pip install "moto[server]"` when missing). The server binds
# to 127.0.0.1 only. Status goes to stderr; stdout carries only the export line.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${MOTO_PORT:-5055}
venv="$root/.venv"
pidfile="$venv/moto-$port.pid"
logfile="$venv/moto-$port.log"
endpoint="http://127.0.0.1:$port"

answers() {
  python3 - "$endpoint" <<'PY' 2>/dev/null
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)
except urllib.error.HTTPError:
    pass  # any HTTP answer means the server is up
except Exception:
    sys.exit(1)
PY
}

if [ "${1:-start}" = "stop" ]; then
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then echo "moto: stopped (pid $pid)" >&2; fi
    rm -f "$pidfile"
  else
    echo "moto: no server started by this script on port $port" >&2
  fi
  exit 0
fi

if answers; then
  echo "moto: already answering at $endpoint" >&2
else
  if [ ! -x "$venv/bin/moto_server" ]; then
    echo "moto: installing moto[server] into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]" >&2
  fi
  echo "moto: starting on $endpoint (log: $logfile)" >&2
  nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    if answers; then break; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "moto: the server exited; see $logfile" >&2
      tail -n 20 "$logfile" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  if ! answers; then
    echo "moto: no answer at $endpoint after 20 s; see $logfile" >&2
    exit 1
  fi
  echo "moto: ready" >&2
fi
echo "export S3FIX_TEST_ENDPOINT=$endpoint"
