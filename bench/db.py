"""The benchmark's own database: a SQLite file under bench/results/, or a PostgreSQL database
`rideshare_bench` beside the server's; dropped and recreated for every run."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
PG_DB_NAME = os.environ.get("BENCH_PG_DB", "rideshare_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _pg(url):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(("postgresql",) + tuple(parts)[1:]), autocommit=True)


def fresh_database(backend, workdir):
    """Recreate the database; return the environment variables that point a process at it."""
    if backend == "embedded":
        path = Path(workdir) / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return {"SQLITE_PATH": str(path)}
    with _pg(PG_ADMIN_URL) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB_NAME}"')
    parts = urlsplit(PG_ADMIN_URL)
    return {"DATABASE_URL": urlunsplit((parts.scheme, parts.netloc, f"/{PG_DB_NAME}", "", ""))}


def drop_database(backend):
    if backend != "embedded":
        with _pg(PG_ADMIN_URL) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB_NAME}" WITH (FORCE)')


def migrate(env):
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stdout}\n{result.stderr}")
