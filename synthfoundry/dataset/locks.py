"""One publisher of a dataset at a time: `fcntl` on a local disk, a lease object on an object store."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time

from synthfoundry.dataset.files import Folder, conditional_put

log = logging.getLogger(__name__)


@contextlib.contextmanager
def publish_lock(folder: Folder, exports: str):
    """Held while a version is published, rolled back or repaired."""
    if not folder.local:
        with LeaseLock(folder.fs, f"{exports}/_publish.lock"):
            yield
        return
    import fcntl

    folder.fs.makedirs(exports, exist_ok=True)
    with open(f"{exports}/.publish.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class LeaseLock:
    """A publish lock on an object store, which has no file locks.

    The lock is an object created with a conditional put (`If-None-Match: *`): one creator wins. It holds an expiry;
    the holder renews it every third of the lease (`If-Match` on its own ETag), so only a holder that died loses it,
    and a waiter takes an expired lock over with `If-Match` on the ETag it saw, so two waiters cannot both take it.
    The manifest's own conditional put is the last fence: even a publisher that lost its lease cannot commit a
    version number someone else committed.
    """

    def __init__(self, fs, path: str, lease_s: float = 60.0, poll_s: float = 0.2) -> None:
        self.fs, self.path, self.lease_s, self.poll_s = fs, path, lease_s, poll_s
        self.etag = None
        self._stop = threading.Event()

    def _body(self) -> bytes:
        owner = f"{os.uname().nodename}:{os.getpid()}"
        return json.dumps({"owner": owner, "expires": time.time() + self.lease_s}).encode()

    def __enter__(self):
        while self.etag is None:
            self.etag = conditional_put(self.fs, self.path, self._body())
            if self.etag is None:
                self._take_over_if_expired()
            if self.etag is None:
                time.sleep(self.poll_s)
        self._renewer = threading.Thread(target=self._renew, daemon=True)
        self._renewer.start()
        return self

    def _take_over_if_expired(self) -> None:
        try:
            info = self.fs.info(self.path)
            held = json.loads(self.fs.cat_file(self.path))
        except FileNotFoundError:
            return
        if held["expires"] < time.time():
            self.etag = conditional_put(self.fs, self.path, self._body(), etag=info["ETag"])

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            self.etag = conditional_put(self.fs, self.path, self._body(), etag=self.etag)
            if self.etag is None:
                log.warning("publish lock %s was taken over: this publisher's lease expired", self.path)
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._renewer.join()
        if self.etag is not None:
            self.fs.rm(self.path)
