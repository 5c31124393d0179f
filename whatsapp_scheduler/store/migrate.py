"""Apply the Alembic migrations shipped inside the package (works from an installed wheel).

Start-up calls `upgrade` every time; when the database is already at the newest revision it
returns after one query, without importing Alembic (a second of start-up on these machines).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from whatsapp_scheduler.store import sql

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a '%' in a password must be doubled.
    config.set_main_option("sqlalchemy.url", sql.normalize_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision id, from the file names (revisions are a straight line NNNN_...)."""
    numbers = [
        match.group(1)
        for path in (MIGRATIONS_DIR / "versions").iterdir()
        if (match := _REVISION_FILE.match(path.name))
    ]
    return max(numbers)


def current_revision(url: str) -> str | None:
    """The database's revision, or None for a new (or unreadable) database."""
    engine = sql.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (idempotent; one query when already there)."""
    if revision == "head" and current_revision(url) == head_revision():
        return
    from alembic import command

    command.upgrade(alembic_config(url), revision)
