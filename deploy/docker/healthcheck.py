"""Container health probe: exit 0 when the service's ``/healthz`` answers 2xx, else 1.

Copied into every image as ``/app/healthcheck.py`` (Dockerfile ``HEALTHCHECK``, compose healthchecks).
Standard library only, so it runs in the slim runtime image without curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

DEFAULT_PORT = "8080"
TIMEOUT_S = 3.0


def health_url(env: Mapping[str, str], path: str = "/healthz") -> str:
    """URL of the probe on this container, honouring ``MLMON_HTTP_PORT``.

    >>> health_url({})
    'http://127.0.0.1:8080/healthz'
    >>> health_url({"MLMON_HTTP_PORT": "9000"}, "/readyz")
    'http://127.0.0.1:9000/readyz'
    """
    port = env.get("MLMON_HTTP_PORT", DEFAULT_PORT) or DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"MLMON_HTTP_PORT must be a TCP port number, got {port!r}")
    return f"http://127.0.0.1:{port}{path}"


def probe(url: str, timeout_s: float = TIMEOUT_S) -> bool:
    """True when ``url`` answers with a 2xx status within ``timeout_s``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - fixed loopback http URL
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else "/healthz"
    try:
        url = health_url(os.environ, path)
    except ValueError as exc:
        sys.stderr.write(f"healthcheck: {exc}\n")
        return 1
    ok = probe(url)
    if not ok:
        sys.stderr.write(f"healthcheck: {url} is not healthy\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
