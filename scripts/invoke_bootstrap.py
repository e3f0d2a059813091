#!/usr/bin/env python3
"""Runs a Lambda bootstrap for one invocation, here, as the Lambda service would, and records
what it did.

    invoke_bootstrap.py BOOTSTRAP ENV_JSON EVENT_FILE     (prints a JSON report on stdout)

ENV_JSON is a file holding the function's environment variables as deployed (its
`Environment.Variables`); they are added to this process's environment (credentials, region,
AWS_ENDPOINT_URL). Serves the event through a minimal Lambda Runtime API on loopback (with a
deadline 60 s ahead), and a minimal Lambda Invoke API that records every invocation the
bootstrap makes (`AWS_ENDPOINT_URL_LAMBDA` points at it; every other AWS service stays where
AWS_ENDPOINT_URL says), answering 202 to `Event` invocations and 200 to the others. Stops the
bootstrap after its answer, its start-up error, its exit, or 60 s.

Report: {"response": the function's answer (JSON) or null, "error": its invocation error or
start-up error or null, "invocations": [{"function", "invocation_type", "body"}],
"stderr": the last 4,000 characters of its standard error}.
"""

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

RUNTIME = "/2018-06-01/runtime"


def serve(handler_class):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    bootstrap, env_path, event_path = argv[1:]
    with open(env_path, encoding="utf-8") as f:
        function_env = json.load(f)
    with open(event_path, "rb") as f:
        event = f.read()
    done = threading.Event()
    report = {"response": None, "error": None, "invocations": [], "stderr": ""}
    served = threading.Event()

    class Runtime(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body=b""):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != f"{RUNTIME}/invocation/next":
                self.answer(404)
                return
            if served.is_set():
                done.wait(70)  # one invocation only: hold the next poll
                self.answer(500)
                return
            served.set()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Lambda-Runtime-Aws-Request-Id", "deploy-check-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                             "arn:aws:lambda:us-east-1:123456789012:function:"
                             + function_env.get("AWS_LAMBDA_FUNCTION_NAME", "deploy-check"))
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(event)))
            self.end_headers()
            self.wfile.write(event)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            text = body.decode("utf-8", "replace")
            if self.path.endswith("/response"):
                try:
                    report["response"] = json.loads(text)
                except ValueError:
                    report["response"] = text
            else:  # /invocation/<id>/error or /init/error
                report["error"] = text
            self.answer(202)
            done.set()

    class Invoke(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            # POST /2015-03-31/functions/<name or ARN>/invocations
            parts = self.path.split("/")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            report["invocations"].append({
                "function": urllib.parse.unquote(parts[3]) if len(parts) > 3 else self.path,
                "invocation_type": kind,
                "body": body.decode("utf-8", "replace"),
            })
            answer = b"" if kind == "Event" else b"null"
            self.send_response(202 if kind == "Event" else 200)
            self.send_header("Content-Length", str(len(answer)))
            self.send_header("X-Amz-Executed-Version", "$LATEST")
            self.end_headers()
            self.wfile.write(answer)

    runtime, invoke = serve(Runtime), serve(Invoke)
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": "deploy-check",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/deploy-check",
        "AWS_LAMBDA_LOG_STREAM_NAME": "deploy-check",
    })
    env.update(function_env)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{runtime.server_address[1]}"
    env["AWS_ENDPOINT_URL_LAMBDA"] = f"http://127.0.0.1:{invoke.server_address[1]}"
    with open(os.devnull, "rb") as stdin:
        proc = subprocess.Popen([bootstrap], env=env, stdin=stdin, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    stderr = []
    reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
    reader.start()
    deadline = time.time() + 60
    while not done.is_set() and proc.poll() is None and time.time() < deadline:
        done.wait(0.1)
    if not done.is_set() and proc.poll() is None:
        report["error"] = "no answer within 60 s"
    elif not done.is_set():
        report["error"] = f"the bootstrap exited with status {proc.returncode} before answering"
    done.set()
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    reader.join(5)
    report["stderr"] = b"".join(stderr).decode("utf-8", "replace")[-4000:]
    runtime.shutdown()
    invoke.shutdown()
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
