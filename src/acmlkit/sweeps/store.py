"""Each finished trial is written at once to SQLite, keyed by the trial's hash."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

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


class ResultsStore:
    """Trial records in ``results.sqlite``; one row per trial key.

    Every write is its own committed transaction, so a crash loses at most the
    trial being written. A successful record is never overwritten by a later
    attempt of the same trial; a failed one is replaced by a retry.
    """

    FILENAME = "results.sqlite"

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / self.FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

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
                out.append(
                    {
                        "key": key,
                        "experiment": experiment,
                        "params": json.loads(params),
                        "status": status,
                        "result": None if result is None else json.loads(result),
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
            entry.update({f"param_{k}": v for k, v in sorted(row["params"].items())})
            for name, value in (row["result"] or {}).items():
                if isinstance(value, (int, float, str, bool)) or value is None:
                    entry[name] = value
            entry["error"] = row["error"]
            entry["seconds"] = row["seconds"]
            flat.append(entry)
        return flat
