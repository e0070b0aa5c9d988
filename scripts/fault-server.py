#!/usr/bin/env python3
"""A loopback HTTP server that misbehaves on request, for the Kotlin and Swift downloader tests.

Usage: scripts/fault-server.py [--port 0] [--file NAME=PATH]...

Prints its base URL (http://127.0.0.1:PORT) as the first line of stdout, then serves until it is
killed. Python's standard library only; one thread per connection; binds 127.0.0.1 only.

URL grammar (the contract the Kotlin and Swift suites share: extend it, never change it):

    GET|HEAD /<token>/<scenario>.../<file>   the file, as the scenarios say
    GET      /<token>/log                    JSON list of this token's file requests, oldest first
    GET      /<token>/digest/<file>          JSON {"size", "sha256", "changed_sha256"}

<token> is any segment the caller picks; requests are counted (from 0) and logged per token, so
concurrent tests that use different tokens never share state. <file> is a NAME given with
--file, or synthetic-<N>.bin: N deterministic bytes (N <= 256 MiB; 32-byte block k is
SHA-256(b"gemkit-synthetic" + k as 8 little-endian bytes)). The "changed" version of a file is
each byte XOR 0xFF, with its own ETag and a Last-Modified one hour later.

Scenarios, any number, applied together ("request n" counts this token's file requests from 0):

    normal           nothing special (the same as no scenario at all)
    drop/B[,K]       requests n < K (default 1) send B body bytes, then close the connection
    status/S1,S2,... request n < count answers status Sn (a short text body) unless Sn is 200;
                     later requests are served: status/500,500,200 fails twice, then succeeds
    norange          ignore Range and If-Range: always 200 with the whole file
    slow/R           send the body at about R bytes per second
    changed          requests n >= 1 get the changed version (so an If-Range from request 0
                     no longer matches and the answer is a full 200)
    auth/SECRET      answer 401 (WWW-Authenticate: Bearer) unless "Authorization: Bearer SECRET"
    noetag           send no ETag (clients must fall back to Last-Modified for If-Range)
    nolength         send no Content-Length; the body ends when the connection closes
    redirect/HOST    answer 302 to the same URL without this scenario, on HOST (127.0.0.1, or
                     localhost for "another host"), same port; the 302 is a request like any

Served files always carry Accept-Ranges: bytes (unless norange), ETag (strong: the version's
SHA-256's first 32 hex digits, in quotes) and Last-Modified. A single "Range: bytes=A-B | A- | -N" is honoured with 206 and
Content-Range; "If-Range" (an entity tag compared strongly, or the exact Last-Modified date) that
does not match the current version gives a full 200; a range starting at or past the end gives
416 with "Content-Range: bytes */SIZE". Anything else in Range is ignored (200).

Log entries: {"n", "method", "path", "range", "if_range", "headers" (names lowercased),
"status", "bytes_sent", "done"}; bytes_sent counts body bytes and grows while the body is sent,
done turns true when the server has finished with the request (sent, dropped, or the client left).
"""
import argparse
import hashlib
import json
import os
import re
import socket
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCENARIOS_WITH_PARAM = {"drop", "status", "slow", "auth", "redirect"}
SCENARIOS = SCENARIOS_WITH_PARAM | {"normal", "norange", "changed", "noetag", "nolength"}
MAX_SYNTHETIC = 256 << 20
CHUNK = 64 << 10
CHANGED = bytes(b ^ 0xFF for b in range(256))
SYNTHETIC_MTIME = 1767225600  # 2026-01-01T00:00:00Z


class Source:
    """One file's two versions: the bytes (a registered path or synthetic), digests and validators."""

    def __init__(self, name, path=None, size=None):
        self.name, self.path = name, path
        self.size = os.path.getsize(path) if path else size
        self.mtime = int(os.path.getmtime(path)) if path else SYNTHETIC_MTIME
        self._synthetic = None
        self._digests = {}
        self._lock = threading.RLock()  # sha256() reads the synthetic bytes under it

    def read(self, changed, start, end):
        """Yields the bytes [start, end) of the original or changed version."""
        if self.path is None:
            data = self._synthetic_bytes()
            for at in range(start, end, CHUNK):
                chunk = data[at:min(end, at + CHUNK)]
                yield chunk.translate(CHANGED) if changed else chunk
            return
        with open(self.path, "rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise IOError(f"{self.path} shrank while being served")
                left -= len(chunk)
                yield chunk.translate(CHANGED) if changed else chunk

    def sha256(self, changed):
        with self._lock:
            if changed not in self._digests:
                h = hashlib.sha256()
                for chunk in self.read(changed, 0, self.size):
                    h.update(chunk)
                self._digests[changed] = h.hexdigest()
            return self._digests[changed]

    def etag(self, changed):
        return '"%s"' % self.sha256(changed)[:32]

    def last_modified(self, changed):
        return formatdate(self.mtime + (3600 if changed else 0), usegmt=True)

    def _synthetic_bytes(self):
        with self._lock:
            if self._synthetic is None:
                blocks = (self.size + 31) // 32
                self._synthetic = b"".join(
                    hashlib.sha256(b"gemkit-synthetic" + k.to_bytes(8, "little")).digest()
                    for k in range(blocks))[:self.size]
            return self._synthetic


class State:
    def __init__(self, files):
        self.files = files
        self.synthetic = {}
        self.logs = {}
        self.lock = threading.Lock()

    def source(self, name):
        if name in self.files:
            return self.files[name]
        if name.startswith("synthetic-") and name.endswith(".bin"):
            digits = name[len("synthetic-"):-len(".bin")]
            if digits.isdigit() and int(digits) <= MAX_SYNTHETIC:
                with self.lock:
                    return self.synthetic.setdefault(name, Source(name, size=int(digits)))
        return None

    def start(self, token, entry):
        """Logs a new request under token; returns its index n."""
        with self.lock:
            log = self.logs.setdefault(token, [])
            entry["n"] = len(log)
            log.append(entry)
            return entry["n"]

    def log_json(self, token):
        with self.lock:
            return json.dumps(self.logs.get(token, []))


def parse_scenarios(segments):
    """[scenario [param]]... file -> (dict name -> param or True, file); ValueError if malformed."""
    chosen = {}
    i = 0
    while i < len(segments) - 1:
        name = segments[i]
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}")
        if name in SCENARIOS_WITH_PARAM:
            if i + 1 >= len(segments) - 1:
                raise ValueError(f"scenario {name!r} needs a parameter")
            chosen[name] = segments[i + 1]
            i += 2
        else:
            chosen[name] = True
            i += 1
    if i != len(segments) - 1:
        raise ValueError("no file named")
    return chosen, segments[-1]


def parse_range(header, size):
    """(start, end) of a single satisfiable byte range, "unsatisfiable", or None to ignore it."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", (header or "").strip())
    if not m or not (m[1] or m[2]) or (m[1] and m[2] and int(m[2]) < int(m[1])):
        return None
    if not m[1]:
        suffix = int(m[2])
        return (max(0, size - suffix), size) if suffix > 0 else "unsatisfiable"
    start = int(m[1])
    end = min(size, int(m[2]) + 1) if m[2] else size
    return (start, end) if start < size else "unsatisfiable"


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that leaves mid-answer is what these tests do on purpose: say nothing.
        if not isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GemKitFaultServer/1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.handle_request(body=False)

    def do_GET(self):
        self.handle_request(body=True)

    def handle_request(self, body):
        state = self.server.state
        self.entry = None
        segments = self.path.split("?")[0].strip("/").split("/")
        if len(segments) == 2 and segments[1] == "log":
            return self.reply_text(200, state.log_json(segments[0]), "application/json")
        if len(segments) == 3 and segments[1] == "digest":
            source = state.source(segments[2])
            if source is None:
                return self.reply_text(404, f"no file {segments[2]!r}\n")
            return self.reply_text(200, json.dumps({
                "size": source.size, "sha256": source.sha256(False),
                "changed_sha256": source.sha256(True)}), "application/json")
        if len(segments) < 2:
            return self.reply_text(404, "expected /<token>/<scenario>.../<file>\n")
        try:
            scenarios, name = parse_scenarios(segments[1:])
        except ValueError as e:
            return self.reply_text(400, f"{e}\n")
        source = state.source(name)
        if source is None:
            return self.reply_text(404, f"no file {name!r}\n")

        self.segments = segments
        self.entry = {"method": self.command, "path": self.path, "range": self.headers.get("Range"),
                      "if_range": self.headers.get("If-Range"),
                      "headers": {k.lower(): v for k, v in self.headers.items()},
                      "status": None, "bytes_sent": 0, "done": False}
        n = state.start(segments[0], self.entry)
        try:
            self.serve(scenarios, source, n, body)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        finally:
            self.entry["done"] = True

    def serve(self, scenarios, source, n, body):
        if "redirect" in scenarios:
            host = scenarios["redirect"]
            at = self.segments.index("redirect")
            rest = "/".join(self.segments[:at] + self.segments[at + 2:])
            location = f"http://{host}:{self.server.server_address[1]}/{rest}"
            return self.reply_text(302, f"see {location}\n", extra={"Location": location})
        codes = scenarios.get("status", "")
        codes = [int(c) for c in codes.split(",")] if codes else []
        if n < len(codes) and codes[n] != 200:
            return self.reply_text(codes[n], f"status {codes[n]} as asked\n")
        if "auth" in scenarios and self.headers.get("Authorization") != f"Bearer {scenarios['auth']}":
            return self.reply_text(401, "a bearer token is required\n", extra={"WWW-Authenticate": "Bearer"})

        changed = "changed" in scenarios and n >= 1
        etag = None if "noetag" in scenarios else source.etag(changed)
        last_modified = source.last_modified(changed)
        start, end, status = 0, source.size, 200
        if "norange" not in scenarios:
            wanted = parse_range(self.headers.get("Range"), source.size)
            if_range = self.headers.get("If-Range")
            if wanted is not None and if_range is not None and if_range not in (etag, last_modified):
                wanted = None
            if wanted == "unsatisfiable":
                return self.reply_text(416, "range not satisfiable\n",
                                       extra={"Content-Range": f"bytes */{source.size}"})
            if wanted is not None:
                (start, end), status = wanted, 206

        self.send_response(status)
        self.entry["status"] = status
        if "norange" not in scenarios:
            self.send_header("Accept-Ranges", "bytes")
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        self.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{source.size}")
        if "nolength" in scenarios:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(end - start))
        self.end_headers()
        if body:
            self.send_body(scenarios, source, changed, start, end, n)

    def send_body(self, scenarios, source, changed, start, end, n):
        limit = None
        if "drop" in scenarios:
            after, _, times = scenarios["drop"].partition(",")
            if n < (int(times) if times else 1):
                limit = int(after)
        rate = int(scenarios["slow"]) if "slow" in scenarios else None
        step = max(1, rate // 20) if rate else CHUNK
        began = time.monotonic()
        for chunk in source.read(changed, start, end):
            for at in range(0, len(chunk), step):
                piece = chunk[at:at + step]
                if limit is not None:
                    piece = piece[:limit - self.entry["bytes_sent"]]
                if rate:
                    ahead = (self.entry["bytes_sent"] + len(piece)) / rate - (time.monotonic() - began)
                    time.sleep(max(0.0, ahead))
                self.wfile.write(piece)
                self.entry["bytes_sent"] += len(piece)
                if limit is not None and self.entry["bytes_sent"] >= limit:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return

    def reply_text(self, status, text, content_type="text/plain", extra=None):
        data = text.encode()
        self.send_response(status)
        if self.entry is not None:
            self.entry["status"] = status
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--file", action="append", default=[], metavar="NAME=PATH")
    args = parser.parse_args()
    files = {}
    for spec in args.file:
        name, sep, path = spec.partition("=")
        if not sep or not name or "/" in name or name in SCENARIOS or not os.path.isfile(path):
            parser.error(f"--file {spec!r}: expected NAME=PATH of an existing file")
        files[name] = Source(name, path=path)
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(files)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
