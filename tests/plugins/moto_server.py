"""moto's threaded server, stopped without waiting out its poll interval.

`ThreadedMotoServer.stop` calls the server's `shutdown()`, which waits until `serve_forever` next
looks for the request to stop; it looks every `poll_interval` seconds, 0.5 s by default (Python
docs: "socketserver", `BaseServer.serve_forever(poll_interval=0.5)` and `shutdown()`). Every module
that starts one paid up to half a second of idle time at teardown. This server is moto's own
(the same app, request handler and thread), polling as often as the sandbox's own servers
(`sandbox.local_http.POLL_INTERVAL_S`).
"""

from __future__ import annotations

import functools
from typing import Any

from moto.server import ThreadedMotoServer

from sandbox.local_http import POLL_INTERVAL_S


class MotoServer(ThreadedMotoServer):
    """`ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)`, quick to stop."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)

    @property  # type: ignore[override]
    def _server(self) -> Any:
        return self.__dict__.get("_polled_server")

    @_server.setter
    def _server(self, server: Any) -> None:
        """moto assigns the werkzeug server it made, then calls its `serve_forever()`."""
        if server is not None:
            server.serve_forever = functools.partial(server.serve_forever, poll_interval=POLL_INTERVAL_S)
        self.__dict__["_polled_server"] = server
