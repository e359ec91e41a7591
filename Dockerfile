# syntax=docker/dockerfile:1.7
# One image per mlmon service, built from the repository root:
#
#   docker build --build-arg SERVICE=collector -t mlmon-collector:dev .
#
# SERVICE is one of: collector, drift, alerting, maintenance, reporting (a directory under services/).
# The image installs only that service's closure from the committed uv.lock (mlmon-common + the service),
# runs as an unprivileged user (uid 10001), writes only to /tmp and /var/lib/mlmon (so the root filesystem
# can be mounted read-only) and answers HTTP on 8080 (/healthz, /readyz, /metrics).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# --- manifests: only pyproject.toml files and uv.lock, so the dependency layer below is rebuilt only
# when dependencies change, not on every source edit.
FROM ${PYTHON_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name pyproject.toml ! -name uv.lock -delete && find . -type d -empty -delete

# --- build: resolve and install into /app/.venv (same path as at runtime: scripts keep valid shebangs).
FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN test -n "${SERVICE}" \
    || { echo "set --build-arg SERVICE=<collector|drift|alerting|maintenance|reporting>" >&2; exit 1; }
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY --from=manifests /src/ ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "mlmon-${SERVICE}"
COPY libs/ libs/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "mlmon-${SERVICE}" \
    && test -x "/app/.venv/bin/mlmon-${SERVICE}" \
    && ln -s "mlmon-${SERVICE}" /app/.venv/bin/mlmon-service
COPY deploy/docker/healthcheck.py /app/healthcheck.py

# --- runtime: no compiler, no uv, no sources; only the virtualenv.
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="mlmon-${SERVICE}" \
      org.opencontainers.image.description="mlmon ${SERVICE} service"
RUN groupadd --system --gid 10001 mlmon \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin mlmon \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/mlmon
COPY --from=build --chown=0:0 /app /app
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MLMON_SERVICE="${SERVICE}" \
    MLMON_HTTP_HOST=0.0.0.0 \
    MLMON_HTTP_PORT=8080 \
    MLMON_CONFIG=/etc/mlmon/config.yml
# The working directory is the writable data directory (faust keeps its table state under it).
WORKDIR /var/lib/mlmon
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/healthcheck.py", "/healthz"]
# `mlmon-service` is the service's console script (mlmon-<SERVICE>); arguments pass through, e.g.
# `docker run mlmon-collector:dev simulate` or `... agent --service NAME`.
ENTRYPOINT ["mlmon-service"]
