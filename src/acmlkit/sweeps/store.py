"""Each finished trial is written at once to SQLite, keyed by the trial's hash.

Every SQLite failure (a damaged, truncated or foreign file, a read-only folder,
a full disk) becomes one line naming the file and what to do, never a sqlite3
traceback.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from acmlkit.errors import DataError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    result TEXT,
    error TEXT,
    seconds REAL,
    finished REAL NOT NULL
)
"""
_COLUMNS = ["key", "experiment", "params", "status", "result", "error", "seconds", "finished"]
# Written into the SQLite header (PRAGMA application_id) so a store is recognised as
# acmlkit's and someone else's database is never written into. ASCII "acml".
APPLICATION_ID = 0x61636D6C


class StoreError(OSError):
    """The results store cannot be read or written (disk full, read-only, locked)."""


class ResultsStore:
    """Trial records in ``results.sqlite``; one row per trial key.

    Every write is its own committed transaction, so a crash loses at most the
    trial being written. A successful record is never overwritten by a later
    attempt of the same trial; a failed one is replaced by a retry.
    """

    FILENAME = "results.sqlite"

    def __init__(self, folder: str | Path, *, create: bool = True):
        self.path = Path(folder) / self.FILENAME
        self._read_only = not create
        if not create:
            if not self.path.is_file():
                raise FileNotFoundError(
                    f"no {self.FILENAME} in {folder}; run acml sweep with --out {folder} first"
                )
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the output folder {self.path.parent}: "
                    f"{exc.strerror or exc}"
                ) from None
        with self._connect() as db:
            self._check_or_create(db, create)

    def _check_or_create(self, db: sqlite3.Connection, create: bool) -> None:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE "
                                                  "type = 'table'")}
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if tables or app_id:
            columns = [row[1] for row in db.execute("PRAGMA table_info(trials)")]
            if app_id not in (0, APPLICATION_ID) or columns != _COLUMNS:
                raise DataError(
                    f"{self.path} is a SQLite database but not an acmlkit results store "
                    f"(tables: {', '.join(sorted(tables)) or 'none'}); use another --out folder"
                )
        elif not create:
            raise DataError(f"{self.path} is an empty file, not an acmlkit results store")
        if create:
            db.execute(_SCHEMA)
            if app_id != APPLICATION_ID:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = None
        try:
            if self._read_only:
                db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=30)
            else:
                db = sqlite3.connect(self.path, timeout=30)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
            with db:
                yield db
        except sqlite3.DatabaseError as exc:
            raise self._translate(exc) from None
        finally:
            if db is not None:
                db.close()

    def _translate(self, exc: sqlite3.DatabaseError) -> Exception:
        text = str(exc)
        code = getattr(exc, "sqlite_errorname", "")
        if code == "SQLITE_FULL" or "full" in text:
            return StoreError(f"cannot write {self.path}: the disk is full ({text}); free space "
                              "and rerun: finished trials are kept")
        if code.startswith("SQLITE_READONLY") or "readonly" in text or "read-only" in text:
            return StoreError(f"cannot write {self.path}: the folder or file is read-only "
                              f"({text}); use another --out folder")
        if code.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
            return StoreError(f"cannot open {self.path} ({text}); check that the folder exists "
                              "and is writable")
        if code.startswith("SQLITE_BUSY") or "locked" in text:
            return StoreError(f"{self.path} is locked by another process ({text})")
        if isinstance(exc, (sqlite3.OperationalError, sqlite3.IntegrityError)) and code in (
            "SQLITE_IOERR", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC"
        ):
            return StoreError(f"cannot write {self.path}: disk I/O error ({text})")
        return DataError(
            f"{self.path} is damaged or not an acmlkit results store ({text}); move it away "
            "and rerun to start afresh, or use another --out folder"
        )

    def record(self, outcome: dict[str, Any]) -> None:
        """Store an outcome from :func:`acmlkit.sweeps.runner.execute_trial`."""
        row = (
            outcome["key"],
            outcome["experiment"],
            json.dumps(outcome["params"], sort_keys=True),
            outcome["status"],
            None if outcome.get("result") is None else json.dumps(outcome["result"]),
            outcome.get("error"),
            outcome.get("seconds"),
            time.time(),
        )
        with self._connect() as db:
            db.execute(
                "INSERT INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET status=excluded.status, result=excluded.result, "
                "error=excluded.error, seconds=excluded.seconds, finished=excluded.finished "
                "WHERE trials.status != 'ok'",
                row,
            )

    def finished_keys(self) -> set[str]:
        """Keys of trials that succeeded (failed ones are retried on a rerun)."""
        with self._connect() as db:
            return {key for (key,) in db.execute("SELECT key FROM trials WHERE status = 'ok'")}

    def rows(self) -> list[dict[str, Any]]:
        """Every record, oldest first, with params and result decoded."""
        with self._connect() as db:
            cursor = db.execute(
                "SELECT key, experiment, params, status, result, error, seconds FROM trials "
                "ORDER BY finished"
            )
            out = []
            for key, experiment, params, status, result, error, seconds in cursor:
                try:
                    decoded_params = json.loads(params)
                    decoded_result = None if result is None else json.loads(result)
                except (TypeError, json.JSONDecodeError) as exc:
                    raise DataError(
                        f"{self.path}: trial {key} holds unreadable JSON ({exc}); the store "
                        "was edited or damaged"
                    ) from None
                out.append(
                    {
                        "key": key,
                        "experiment": experiment,
                        "params": decoded_params,
                        "status": status,
                        "result": decoded_result,
                        "error": error,
                        "seconds": seconds,
                    }
                )
            return out

    def table(self) -> list[dict[str, Any]]:
        """Flat rows ready for CSV or a DataFrame: ``param_*``, result metrics, status."""
        flat = []
        for row in self.rows():
            entry = {"key": row["key"], "experiment": row["experiment"], "status": row["status"]}
            params = row["params"] if isinstance(row["params"], dict) else {}
            entry.update({f"param_{k}": v for k, v in sorted(params.items())})
            result = row["result"] if isinstance(row["result"], dict) else {}
            for name, value in result.items():
                if isinstance(value, (int, float, str, bool)) or value is None:
                    entry[name] = value
            entry["error"] = row["error"]
            entry["seconds"] = row["seconds"]
            flat.append(entry)
        return flat
