"""The one Dockerfile (``ARG SERVICE``), its build context and the container healthcheck, checked offline."""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType

import pytest

SERVICES = ("collector", "drift", "alerting", "maintenance", "reporting")
Instruction = tuple[str, str]


def instructions(text: str) -> list[Instruction]:
    """(KEYWORD, arguments) per instruction; continuation lines joined, comments dropped."""
    out: list[Instruction] = []
    buf = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        buf += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            keyword, _, args = buf.strip().partition(" ")
            out.append((keyword.upper(), " ".join(args.split())))
            buf = ""
    return out


def stages(instrs: list[Instruction]) -> dict[str, list[Instruction]]:
    out: dict[str, list[Instruction]] = {}
    current = "<preamble>"
    for kw, args in instrs:
        if kw == "FROM":
            current = args.split(" AS ")[-1] if " AS " in args else args
            out[current] = []
        else:
            out.setdefault(current, []).append((kw, args))
    return out


@pytest.fixture(scope="module")
def dockerfile(root: Path) -> list[Instruction]:
    return instructions((root / "Dockerfile").read_text())


def test_instruction_parser_joins_continuations() -> None:
    text = "# c\nFROM a AS b\nRUN x \\\n    # inner comment\n    && y\nUSER 1\n"
    assert instructions(text) == [("FROM", "a AS b"), ("RUN", "x && y"), ("USER", "1")]


def test_multi_stage_layout(dockerfile: list[Instruction]) -> None:
    froms = [args for kw, args in dockerfile if kw == "FROM"]
    assert froms == [
        "ghcr.io/astral-sh/uv:${UV_VERSION} AS uv",
        "${PYTHON_IMAGE} AS manifests",
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE} AS runtime",
    ]
    python_image, uv_version = (args for _, args in stages(dockerfile)["<preamble>"])
    assert python_image.startswith("PYTHON_IMAGE=python:3.11-slim")  # the workspace's Python
    assert re.fullmatch(r"UV_VERSION=\d+\.\d+\.\d+", uv_version)  # pinned, reproducible


def test_build_stage_installs_only_the_service_closure_from_the_lock(dockerfile: list[Instruction]) -> None:
    build = stages(dockerfile)["build"]
    assert ("ARG", "SERVICE") in build
    syncs = [args for kw, args in build if kw == "RUN" and "uv sync" in args]
    assert len(syncs) == 2
    for cmd in syncs:
        assert "uv sync --frozen --no-dev" in cmd
        assert '--package "mlmon-${SERVICE}"' in cmd
    assert "--no-install-workspace" in syncs[0]  # dependency layer, cached across source edits
    assert "--no-editable" in syncs[1]  # the runtime venv does not point back into /src
    assert any(kw == "RUN" and 'test -n "${SERVICE}"' in args for kw, args in build)


def test_runtime_stage_is_non_root_and_healthchecked(dockerfile: list[Instruction]) -> None:
    runtime = stages(dockerfile)["runtime"]
    users = [args for kw, args in runtime if kw == "USER"]
    assert users == ["10001:10001"]
    assert ("EXPOSE", "8080") in runtime
    assert ("ENTRYPOINT", '["mlmon-service"]') in runtime
    (health,) = [args for kw, args in runtime if kw == "HEALTHCHECK"]
    assert health.endswith('CMD ["python", "/app/healthcheck.py", "/healthz"]')
    env = " ".join(args for kw, args in runtime if kw == "ENV")
    for setting in ("MLMON_HTTP_HOST=0.0.0.0", "MLMON_HTTP_PORT=8080", "MLMON_CONFIG=/etc/mlmon/config.yml"):
        assert setting in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # nothing written next to the code: root fs may be read-only
    assert ("WORKDIR", "/var/lib/mlmon") in runtime
    copies = [args for kw, args in runtime if kw == "COPY"]
    assert copies == ["--from=build --chown=0:0 /app /app"]  # code owned by root, not writable by the app


def test_every_service_can_be_built(root: Path) -> None:
    lock = (root / "uv.lock").read_text()
    for service in SERVICES:
        project = tomllib.loads((root / "services" / service / "pyproject.toml").read_text())["project"]
        assert project["name"] == f"mlmon-{service}"
        assert f"mlmon-{service}" in project["scripts"], f"{service}: console script mlmon-{service} missing"
        assert f'name = "mlmon-{service}"' in lock, f"{service}: not in uv.lock"
    assert sorted(p.name for p in (root / "services").iterdir() if (p / "pyproject.toml").exists()) == sorted(
        SERVICES
    ), "a new service needs a compose entry, a k8s file and this list (docs/adding-a-service.md)"


# --- .dockerignore ------------------------------------------------------------------------------


def _pattern(p: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(p):
        if p.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif p.startswith("**", i):
            out, i = out + ".*", i + 2
        elif p[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif p[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(p[i]), i + 1
    return re.compile(out)


def ignored(path: str, rules: list[str]) -> bool:
    """moby's rule: the last matching pattern wins; a pattern matching a parent directory matches the path."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for rule in rules:
        negate = rule.startswith("!")
        regex = _pattern(rule.removeprefix("!").strip("/"))
        if any(regex.fullmatch(c) for c in candidates):
            result = not negate
    return result


@pytest.fixture(scope="module")
def ignore_rules(root: Path) -> list[str]:
    lines = (root / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_ignore_matcher() -> None:
    rules = ["**", "!libs", "**/__pycache__"]
    assert ignored("tests/x.py", rules)
    assert not ignored("libs/a/b.py", rules)
    assert ignored("libs/a/__pycache__/b.pyc", rules)


def _tracked_sources(root: Path) -> Iterator[str]:
    for top in ("libs", "services"):
        for p in (root / top).rglob("*"):
            rel = p.relative_to(root).as_posix()
            if p.is_file() and "__pycache__" not in rel and ".egg-info" not in rel:
                yield rel


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_else(
    root: Path, dockerfile: list[Instruction], ignore_rules: list[str]
) -> None:
    sources = [
        args.split()[-2]
        for kw, args in dockerfile
        if kw == "COPY" and not args.startswith("--from") and args.split()[-2] != "."
    ]
    assert sources == ["libs/", "services/", "deploy/docker/healthcheck.py"]
    for src in [*sources, "pyproject.toml", "uv.lock"]:
        assert (root / src).exists(), src
        assert not ignored(src.rstrip("/"), ignore_rules), f"{src} is excluded by .dockerignore"
    leaked = [p for p in _tracked_sources(root) if ignored(p, ignore_rules)]
    assert leaked == [], "sources excluded from the build context"
    for outside in ("tests/conftest.py", "docs/x.md", ".git/HEAD", ".venv/bin/python", "docker-compose.yml"):
        assert ignored(outside, ignore_rules), f"{outside} should not be sent to the daemon"
    assert ignored("services/drift/src/mlmon_drift/__pycache__/x.pyc", ignore_rules)


# --- healthcheck.py ----------------------------------------------------------------------------


def test_health_url(healthcheck: ModuleType) -> None:
    assert healthcheck.health_url({}) == "http://127.0.0.1:8080/healthz"
    assert healthcheck.health_url({"MLMON_HTTP_PORT": ""}) == "http://127.0.0.1:8080/healthz"
    assert healthcheck.health_url({"MLMON_HTTP_PORT": "9000"}, "/readyz") == "http://127.0.0.1:9000/readyz"
    for bad in ("http", "0", "70000", "-1"):
        with pytest.raises(ValueError, match=f"MLMON_HTTP_PORT must be a TCP port number, got '{bad}'"):
            healthcheck.health_url({"MLMON_HTTP_PORT": bad})


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[int]:
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_probe_and_main_against_a_local_server(
    healthcheck: ModuleType, server: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert healthcheck.probe(f"http://127.0.0.1:{server}/healthz") is True
    assert healthcheck.probe(f"http://127.0.0.1:{server}/readyz") is False
    monkeypatch.setenv("MLMON_HTTP_PORT", str(server))
    assert healthcheck.main(["/healthz"]) == 0
    assert healthcheck.main(["/readyz"]) == 1
    assert capsys.readouterr().err == f"healthcheck: http://127.0.0.1:{server}/readyz is not healthy\n"
    monkeypatch.setenv("MLMON_HTTP_PORT", "nope")
    assert healthcheck.main([]) == 1
    assert "MLMON_HTTP_PORT must be a TCP port number" in capsys.readouterr().err


def test_probe_of_a_closed_port_is_unhealthy(healthcheck: ModuleType) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert healthcheck.probe(f"http://127.0.0.1:{port}/healthz", timeout_s=1.0) is False
