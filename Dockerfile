# whatsapp-scheduler: one image for `serve` (API + dispatcher), `worker` and `db upgrade|copy`.
# Build: docker build -t whatsapp-scheduler .   Run several replicas on PostgreSQL: docker-compose.yml
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# uv from PyPI, pinned (the same version as the project's .tools/bin/uv).
RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app
# Dependencies first (cached while only the code changes), exactly as locked.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY whatsapp_scheduler ./whatsapp_scheduler
COPY main.py ./
RUN uv sync --frozen --no-dev

# Non-root; /data holds the SQLite file when DATABASE_URL is left at its default.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /data && chown app:app /data
USER app

ENV PATH=/app/.venv/bin:$PATH \
    DATABASE_URL=sqlite:////data/whatsapp_schedules.db \
    PORT=8000
VOLUME ["/data"]
EXPOSE 8000

# /health answers 200 while the database is reachable (503 otherwise); no API key needed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

CMD ["whatsapp-scheduler", "serve", "--host", "0.0.0.0"]
