"""A minimal Lambda Runtime API host for the benchmarks: runs one function process, hands it one
event and measures it from process start to its first response, and its peak RSS.

Both the Rust `bootstrap` and the Python function (under awslambdaric) run under this same host,
so whatever it costs is paid by both.
"""

import http.server
import json
import os
import queue
import subprocess
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime"


class _Host(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.events = queue.Queue()
        self.results = queue.Queue()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != f"{PREFIX}/invocation/next":
            return self._reply(404)
        event, deadline_s = self.server.events.get()
        request_id = str(uuid.uuid4())
        deadline_ms = int((time.time() + deadline_s) * 1000)
        self._reply(200, json.dumps(event).encode(), [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn",
             "arn:aws:lambda:us-east-1:123456789012:function:bench"),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
        ])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.perf_counter()
        kind = self.path.rsplit("/", 1)[-1]  # response | error
        self._reply(202, b"{}")
        self.server.results.put((at, kind, body))


def run_once(command, env, event, deadline_s=900, timeout_s=1200, cwd=None):
    """Starts `command` under a fresh Runtime API, gives it `event`, waits for its answer, kills it.

    Returns (seconds from process start to the answer, peak RSS in KiB, kind, parsed body)."""
    host = _Host()
    threading.Thread(target=host.serve_forever, daemon=True).start()
    host.events.put((event, deadline_s))
    full_env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{host.server_address[1]}")
    started = time.perf_counter()
    process = subprocess.Popen(command, env=full_env, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        at, kind, body = host.results.get(timeout=timeout_s)
        peak_kib = _peak_rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()
        host.shutdown()
        host.server_close()
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body.decode(errors="replace")
    return at - started, peak_kib, kind, parsed


def _peak_rss_kib(pid):
    """The process's peak resident set since its exec (VmHWM), not counting the forked parent's
    pages that rusage's ru_maxrss would include."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")


def lambda_env(endpoint, function, extra=None):
    """The environment Lambda gives a function (the parts these functions read), pointed at moto."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "TZ": ":UTC",
    }
    env.update(extra or {})
    return env
