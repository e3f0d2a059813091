# shellcheck shell=bash
# Small helpers for the scripts in this folder. Source it; it sets no shell options.
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The repository root (the folder above scripts/), whatever the caller's working directory.
repo_root() {
    (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
}

# The pinned tools live here (see scripts/setup-tools).
tools_venv() {
    printf '%s/.tools/venv\n' "$(repo_root)"
}

# log MESSAGE...: one line on stderr, prefixed with the calling script's name.
log() {
    printf '%s: %s\n' "${LOG_NAME:-$(basename "$0")}" "$*" >&2
}

# die MESSAGE...: log and exit 1.
die() {
    log "error: $*"
    exit 1
}

# free_port: print a TCP port that nothing listens on right now, on 127.0.0.1.
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# port_open HOST PORT: true if something accepts TCP connections there.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_for_port HOST PORT TIMEOUT_SECONDS [PID]: poll every 0.1 s until HOST:PORT accepts
# connections. Fails after TIMEOUT_SECONDS, or as soon as PID (if given) has exited.
wait_for_port() {
    local host=$1 port=$2 timeout=$3 pid=${4:-}
    local deadline=$((SECONDS + timeout))
    until port_open "$host" "$port"; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            log "process $pid exited before $host:$port opened"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            log "$host:$port did not open within ${timeout}s"
            return 1
        fi
        sleep 0.1
    done
}

# stop_pid PID [GRACE_SECONDS]: TERM the process we started, KILL it if it outlives the grace.
stop_pid() {
    local pid=$1 grace=${2:-5}
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# cargo_target_dir: where cargo puts what it builds (CARGO_TARGET_DIR, or the workspace's).
cargo_target_dir() {
    cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# http_post URL BODY TIMEOUT_SECONDS: POST BODY, print the answer's body whatever its status.
# Fails (printing nothing) when no answer came: refused, reset, or no answer within the timeout.
http_post() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys, urllib.error, urllib.request
url, body, timeout = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
request = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        sys.stdout.write(answer.read().decode("utf-8", "replace"))
except urllib.error.HTTPError as answer:
    sys.stdout.write(answer.read().decode("utf-8", "replace"))
except (OSError, urllib.error.URLError):
    sys.exit(1)
PY
}
