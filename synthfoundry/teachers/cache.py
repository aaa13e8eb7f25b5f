"""The request cache: every answer is written to SQLite the moment it arrives, keyed by what was asked of whom.

The key is the provider, its endpoint, the model and the fully rendered request with its sampling parameters;
nothing about the flow, recipe or code that built the request. So an identical request is never paid twice, across
runs, recipes and flows, and a run that crashed re-sends only what was in flight. SQLite in WAL mode lets the
flow's threads and several worker processes on one machine read and write the same file safely.

Only answers are kept: a failure or an empty answer is never stored, so a later run asks again. A request being
asked is claimed (a row naming the asking process), so two runs asking the same uncached request at once pay
once: the second waits for the first's answer, and takes over the claim if the first process has died.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from synthfoundry.teachers.base import ChatRequest, Completion

# What is stored of a completion; cost, the cached flag and parsed objects are derived on the way out.
_STORED = ("text", "model", "prompt_tokens", "completion_tokens", "finish_reason", "reasoning", "provider", "tool_calls")


def request_key(provider: str, base_url: str | None, model: str, request: ChatRequest) -> str:
    payload = {"provider": provider, "base_url": base_url, "model": model, "request": vars(request)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


_creating = threading.Lock()


class RequestCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()  # sqlite3 connections must stay in the thread that opened them
        with _creating:
            # WAL is a property of the file, set once: switching journal mode needs an exclusive lock, and
            # several threads doing it at once get "database is locked" without waiting for the busy timeout.
            # Other processes opening a new file at the same moment are not covered by this lock: wait them out.
            db = self.connection()
            for attempt in range(100):
                try:
                    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        db.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    if attempt == 99:
                        raise
                    time.sleep(0.05)
            db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, pid INTEGER NOT NULL)")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the cache file (batch mode keeps its in-flight batches in it too)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA synchronous=NORMAL")  # survives a process crash; WAL keeps the file consistent
            self._local.db = db
        return db

    def get(self, key: str) -> Completion | None:
        row = self.connection().execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        stored = json.loads(row[0])
        return Completion(**stored | {"tool_calls": tuple(stored.get("tool_calls", ()))}, cached=True)

    def claim(self, key: str) -> bool:
        """Take the right to ask `key`: True when this process may send it (nobody else is, or the one who was has
        died), False while another live asker holds it."""
        db = self.connection()
        if db.execute("INSERT OR IGNORE INTO claims (key, pid) VALUES (?, ?)", (key, os.getpid())).rowcount:
            return True
        row = db.execute("SELECT pid FROM claims WHERE key = ?", (key,)).fetchone()
        if row is None:  # released meanwhile
            return self.claim(key)
        if row[0] == os.getpid() or _alive(row[0]):
            return False
        return bool(db.execute("UPDATE claims SET pid = ? WHERE key = ? AND pid = ?", (os.getpid(), key, row[0])).rowcount)

    def release(self, key: str) -> None:
        self.connection().execute("DELETE FROM claims WHERE key = ? AND pid = ?", (key, os.getpid()))

    def put(self, key: str, completion: Completion) -> None:
        answer = json.dumps({name: getattr(completion, name) for name in _STORED}, ensure_ascii=False)
        self.connection().execute("INSERT OR REPLACE INTO answers (key, answer) VALUES (?, ?)", (key, answer))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
