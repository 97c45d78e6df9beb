"""The sandbox's local HTTP servers: on 127.0.0.1, each request on its own daemon thread, served
from a daemon thread that looks for a stop request every `POLL_INTERVAL_S`.

`shutdown()` waits until `serve_forever` next looks for the request to stop, every
`poll_interval` seconds, 0.5 s by default (Python docs: "socketserver",
`BaseServer.serve_forever(poll_interval=0.5)` and `shutdown()`). The sandbox stops its API, the
developer page, the Marketplace emulator and one solution API per deleted stack, so a short poll
keeps stopping quick.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POLL_INTERVAL_S = 0.05


def local_server(handler: type[BaseHTTPRequestHandler], port: int = 0) -> ThreadingHTTPServer:
    """A server on 127.0.0.1:`port` (0: any free port) whose request threads never hold up exit."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


def serve_in_background(server: ThreadingHTTPServer, name: str) -> threading.Thread:
    """Start serving on a daemon thread called `name`; `server.shutdown()` stops it within a poll."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, name=name, daemon=True
    )
    thread.start()
    return thread
