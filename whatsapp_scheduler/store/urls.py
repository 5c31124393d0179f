"""Database URLs, as DATABASE_URL gives them: which backend, and the forms each library takes
(SQLAlchemy with the psycopg 3 driver, libpq for psycopg's own connections, a SQLite file)."""

from __future__ import annotations

from sqlalchemy.engine import make_url


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for plain PostgreSQL URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq (psycopg) accepts it: no `+driver` suffix."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise ValueError("not a PostgreSQL URL")
    return "postgresql://" + rest


def is_postgres(url: str) -> bool:
    """True for postgres://, postgresql:// and postgresql+driver:// URLs."""
    return url.split("://", 1)[0].split("+", 1)[0] in {"postgres", "postgresql"}


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL, as SQLAlchemy opens it; None for other databases and memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    path = parsed.database
    return path if path and path != ":memory:" and not path.startswith("file:") else None


def safe_url(url: str) -> str:
    """The URL for messages and logs, password hidden."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)
