"""Alembic environment: runs revisions against the engine or URL handed over by `store.migrate`."""

from __future__ import annotations

from alembic import context

from whatsapp_scheduler.store import engine as engine_mod
from whatsapp_scheduler.store import tables

config = context.config
target_metadata = tables.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_mod.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    dialect = connection.dialect.name  # type: ignore[attr-defined]

    def include(item: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
        """The check of the tables against the database skips an index declared for another
        backend only (`tables.only_on`)."""
        info: dict[str, object] = getattr(item, "info", {}) if kind == "index" else {}
        return reflected or info.get(tables.ONLY_ON, dialect) == dialect

    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
        include_object=include,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `db upgrade`")
run_migrations_online()
