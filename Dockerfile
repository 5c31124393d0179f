# whatsapp-scheduler: one image for `serve` (API + dispatcher), `worker`, `db upgrade|copy` and
# `sandbox`.
#   docker build -t whatsapp-scheduler .
#   docker run -p 8000:8000 -p 8001:8001 whatsapp-scheduler whatsapp-scheduler serve --sandbox
# Several replicas on PostgreSQL: docker-compose.yml. Operations: docs/operations.md.
# Tested in CI by scripts/test-deploy (the image is built and run as a user would).

# ---- build: resolve nothing, install exactly what uv.lock pins into /app/.venv ----
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# uv from PyPI, pinned (the same version as scripts/bootstrap installs into .tools/).
RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /src
# Dependencies first: this layer is reused while only the code changes.
COPY pyproject.toml uv.lock README.md ./
# Byte-compiled here (start-up would otherwise compile every import, ~1.5 s), as hash-based
# .pyc files: the same sources give the same bytes on every build (timestamped ones would not),
# and uv's build-time stamp (uv_cache.json) is left out: two builds give the same venv, byte
# for byte (bench/RESULTS.md).
ARG COMPILE="python -m compileall -q -j 0 --invalidation-mode unchecked-hash"
RUN uv sync --frozen --no-dev --no-install-project && $COMPILE /app/.venv/lib
# Then the package itself, installed as a wheel (not editable): the venv is all that is needed.
COPY whatsapp_scheduler ./whatsapp_scheduler
RUN uv sync --frozen --no-dev --no-editable \
    && $COMPILE /app/.venv/lib/python3.*/site-packages/whatsapp_scheduler \
    && rm -f /app/.venv/lib/python3.*/site-packages/whatsapp_scheduler-*.dist-info/uv_cache.json \
    && sed -i '/uv_cache.json/d' /app/.venv/lib/python3.*/site-packages/whatsapp_scheduler-*.dist-info/RECORD

# ---- final: the base image, a non-root user and the venv; no uv, no sources, no tests ----
FROM python:3.11-slim

# /data holds the SQLite file when DATABASE_URL is left at its default (a volume).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app /data && chown app:app /data

COPY --from=build /app/.venv /app/.venv

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/whatsapp_schedules.db \
    HOST=0.0.0.0 \
    PORT=8000

USER app
WORKDIR /app
VOLUME ["/data"]
EXPOSE 8000

# /health answers 200 while the database is reachable (503 otherwise); no API key needed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# SIGTERM (docker stop) drains: unsent claims go back to the queue, sends on the wire get
# SHUTDOWN_GRACE_SECONDS (10 s) to finish; give the container that long (`docker stop -t 30`,
# compose's stop_grace_period), see docs/operations.md.
CMD ["whatsapp-scheduler", "serve"]
