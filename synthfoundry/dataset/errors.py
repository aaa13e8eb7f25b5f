"""What can go wrong with a published dataset, under the library's one error root."""

from __future__ import annotations

from synthfoundry.errors import TransientError, UserError


class PublishError(TransientError, RuntimeError):
    """Publishing could not complete (another writer, an object-store failure); nothing was published, and a later
    attempt may succeed."""


class NothingNew(PublishError):
    """Every row was published meanwhile by another run (the same run started twice): nothing to add, no failure."""


class NotPublished(UserError, LookupError):
    """The version or tag asked for is not in the dataset; the message names what there is."""


class TagRefused(UserError, ValueError):
    """A tag name the store keeps for itself (vN, latest) or cannot store."""


class StoreUnreachable(UserError, OSError):
    """The publish root cannot be reached or written (no bucket, no credentials, a folder without permission); the
    message names the place, the endpoint and what to set."""
