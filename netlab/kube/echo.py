"""A pod's tiny web server and its client, run inside a world (standard library only).

``python3 -m netlab.kube.echo serve --name web-1 --port 8080`` answers every GET with one line: the pod's
name and the client address it saw (so a reader sees DNAT and masquerade from the server's side).
``python3 -m netlab.kube.echo get URL [--count N]`` fetches URL N times on fresh connections and prints
one line per answer, or the error in one line (``refused``, ``timed out``), never a traceback.
"""

from __future__ import annotations

import argparse
import http.server
import socket
import sys
import urllib.error
import urllib.request


def serve(name: str, port: int) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"{name} saw {self.client_address[0]}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


def get(url: str, count: int, timeout: float) -> int:
    failures = 0
    for _ in range(count):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                print(r.read().decode().strip())
        except urllib.error.URLError as exc:
            reason = exc.reason
            failures += 1
            if isinstance(reason, ConnectionRefusedError):
                print("error: connection refused (an ICMP port unreachable or a TCP reset came back)")
            elif isinstance(reason, (socket.timeout, TimeoutError)):
                print(f"error: timed out after {timeout:g} s (no answer at all)")
            else:
                print(f"error: {reason}")
        except (socket.timeout, TimeoutError):
            failures += 1
            print(f"error: timed out after {timeout:g} s (no answer at all)")
        except OSError as exc:
            failures += 1
            print(f"error: {exc.strerror or exc}")
    return 1 if failures == count else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m netlab.kube.echo")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--port", type=int, default=8080)
    g = sub.add_parser("get")
    g.add_argument("url")
    g.add_argument("--count", type=int, default=1)
    g.add_argument("--timeout", type=float, default=2)
    a = p.parse_args(argv)
    if a.cmd == "serve":
        serve(a.name, a.port)
        return 0
    return get(a.url, a.count, a.timeout)


if __name__ == "__main__":
    sys.exit(main())
