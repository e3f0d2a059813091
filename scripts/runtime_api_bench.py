#!/usr/bin/env python3
"""Start-up and memory of a Lambda bootstrap, through a minimal Runtime API on loopback.

Serves one invocation (the body given) at `GET /2018-06-01/runtime/invocation/next`, times
from the moment the process is started to the moment its response arrives, reads its peak
resident memory since it started (`VmHWM` in /proc/PID/status: the peak of the program itself,
not of the Python process it was forked from), then stops it. Repeats, prints the medians.

    runtime_api_bench.py BOOTSTRAP BODY_FILE [RUNS]    (environment: the function's own)
"""

import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

API = "/2018-06-01/runtime"


def peak_rss(pid):
    """The process's peak resident memory in bytes, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def one_run(bootstrap, body):
    done = threading.Event()
    result = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path != f"{API}/invocation/next":
                self.send_error(404)
                return
            if result.get("served"):
                # Only one invocation: hold the next poll until the process is stopped.
                done.wait(10)
                return
            result["served"] = True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
            self.send_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length)
            if self.path.endswith("/response"):
                result["elapsed"] = time.perf_counter() - result["start"]
                result["response"] = payload
                result["peak_rss"] = peak_rss(result["pid"])
            else:
                result["error"] = (self.path, payload)
            self.send_response(202)
            self.end_headers()
            done.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
        AWS_LAMBDA_FUNCTION_NAME="bench",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
    )
    result["start"] = time.perf_counter()
    proc = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result["pid"] = proc.pid
    finished = done.wait(30)
    proc.kill()
    proc.wait()
    server.shutdown()
    if not finished:
        sys.exit("the bootstrap answered nothing within 30 s")
    if "error" in result:
        sys.exit(f"the bootstrap reported an error: {result['error']}")
    return result["elapsed"], result["peak_rss"], result["response"]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    bootstrap, body_file = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    with open(body_file, "rb") as f:
        body = f.read()
    one_run(bootstrap, body)  # warm the page cache
    samples = [one_run(bootstrap, body) for _ in range(runs)]
    summary = json.loads(samples[-1][2])
    print(
        json.dumps(
            {
                "start_to_first_response_ms": round(statistics.median(s[0] for s in samples) * 1000, 2),
                "peak_rss_mb": round(statistics.median(s[1] for s in samples) / 1e6, 2),
                "runs": runs,
                "body_bytes": len(body),
                "events_handled": summary.get("handled"),
            }
        )
    )


if __name__ == "__main__":
    main()
