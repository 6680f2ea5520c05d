"""The identity graph's use cases; the public API other areas call.

- `resolve(session, clock, company_id, identifiers)`: the one user those identifiers name,
  created when none does; identifiers that belong to several users merge them (the oldest user
  survives) and new identifiers are attached to it.
- `find_user` / `find_users`: who owns an identifier, without creating anything.
- `current_user_id`: a user id, following merges to the survivor.
- `identifiers_of`, `profile`: what a user is known by.
- `merge(session, clock, company_id, survivor_id, merged_id)`: every row of every area that
  points at the merged user is moved to the survivor, the merge is recorded, the merged user
  row is deleted.

Merging is pluggable. Every column with a foreign key to `users.id` is re-pointed generically
(`UPDATE ... SET user_id = survivor`). An area whose rows cannot simply be re-pointed (say, a
unique (user, name) that both users have) registers a hook with `@on_merge` in a module named
`heedful.<area>.merge`; such modules are imported before the first merge, and their hooks run
before the generic pass, so they can drop or combine the rows that would collide.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import heedful
from heedful.core.clock import Clock
from heedful.errors import InvalidRequest
from heedful.identity import repository
from heedful.identity.identifiers import (
    CLIENT_USER_ID,
    CUSTOM,
    EMAIL,
    PHONE,
    Identifier,
)
from heedful.storage.db import ConcurrentChange

MergeHook = Callable[[Session, int, int, int], None]
"""`hook(session, company_id, survivor_id, merged_id)`, run inside the merging transaction."""

_hooks: list[MergeHook] = []
_hooks_lock = threading.Lock()
_hook_modules_loaded = False
RESOLVE_ATTEMPTS = 3


def on_merge(hook: MergeHook) -> MergeHook:
    """Register `hook` to run on every merge, before the generic re-pointing (a decorator)."""
    with _hooks_lock:
        if hook not in _hooks:
            _hooks.append(hook)
    return hook


def _load_hook_modules() -> None:
    """Import every `heedful.<area>.merge` module, so their `@on_merge` hooks are registered."""
    global _hook_modules_loaded
    if _hook_modules_loaded:
        return
    for module in pkgutil.iter_modules(heedful.__path__):
        name = f"heedful.{module.name}.merge"
        if module.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    _hook_modules_loaded = True


@dataclass(frozen=True)
class Resolution:
    """The outcome of `resolve`: the user, and what resolving it changed."""

    user_id: int
    created: bool = False
    merged_user_ids: tuple[int, ...] = ()
    added: tuple[Identifier, ...] = ()


@dataclass(frozen=True)
class UserProfile:
    """A user as other areas see it (webhook subscriber fields, admin views)."""

    user_id: int
    created_at: datetime
    identifiers: list[Identifier]
    merged_user_ids: list[int] = field(default_factory=list)

    def first(self, kind: str) -> str | None:
        return next((item.value for item in self.identifiers if item.kind == kind), None)

    @property
    def phone(self) -> str | None:
        return self.first(PHONE)

    @property
    def email(self) -> str | None:
        return self.first(EMAIL)

    @property
    def client_user_ids(self) -> tuple[str, ...]:
        return tuple(item.value for item in self.identifiers if item.kind == CLIENT_USER_ID)

    @property
    def custom_identifiers(self) -> dict[str, str]:
        """One value a name; a merge can leave several: the oldest, as `phone` and `email`."""
        found: dict[str, str] = {}
        for item in self.identifiers:
            if item.kind == CUSTOM:
                found.setdefault(item.name, item.value)
        return found


def resolve(
    session: Session, clock: Clock, company_id: int, identifiers: Sequence[Identifier]
) -> Resolution:
    """The user `identifiers` name (created if unknown); bridged users are merged."""
    if not identifiers:
        raise InvalidRequest("At least one identifier is required")
    stalled = 0
    previous: dict[Identifier, int] | None = None
    while True:
        known = repository.owners(session, company_id, identifiers)
        users = sorted(set(known.values()))
        missing = [item for item in dict.fromkeys(identifiers) if item not in known]
        if len(users) == 1 and not missing:
            return Resolution(users[0])
        # Only an attempt that lost to nothing counts against the limit: one that finds the
        # owners changed since the last lost to a transaction that committed (a merge of the
        # same users, say), and many requests bridging the same users at once each lose that
        # way several times before their merge is the one to go through.
        stalled = stalled + 1 if known == previous else 0
        previous = known
        try:
            # A savepoint: a concurrent writer (another process) may attach one of `missing`
            # first; then the unique constraint fires, and the next attempt sees its row. An
            # erasure or merge may delete one of `users` first; then the foreign key of a new
            # identifier fires (or a merge finds it gone), and the next attempt no longer
            # finds it by these identifiers.
            with session.begin_nested():
                return _resolve_with_writes(session, clock, company_id, users, missing)
        except (IntegrityError, ConcurrentChange):
            if stalled == RESOLVE_ATTEMPTS - 1:
                raise


def _resolve_with_writes(
    session: Session, clock: Clock, company_id: int, users: list[int], missing: list[Identifier]
) -> Resolution:
    now = clock.now()
    created = not users
    if len(users) > 1 and repository.lock_users(session, company_id, users) != set(users):
        # Erased or merged away since `owners` read it (its lock was held meanwhile).
        raise ConcurrentChange("a user of these identifiers is gone")
    survivor = repository.create_user(session, company_id, now) if created else users[0]
    for other in users[1:]:
        merge(session, clock, company_id, survivor, other)
    repository.add_identifiers(session, company_id, survivor, missing, now)
    return Resolution(survivor, created, tuple(users[1:]), tuple(missing))


def merge(
    session: Session, clock: Clock, company_id: int, survivor_id: int, merged_id: int
) -> None:
    """Fold `merged_id` into `survivor_id`: every dependent row moves, the merge is recorded."""
    if survivor_id == merged_id:
        raise InvalidRequest("A user cannot be merged into itself")
    repository.lock_users(session, company_id, [survivor_id, merged_id])
    for user_id in (survivor_id, merged_id):
        if not repository.user_exists(session, company_id, user_id):
            raise InvalidRequest(f"No user {user_id} in this company")
    snapshot = [
        {"kind": item.kind, "name": item.name, "value": item.value}
        for item in repository.identifiers_of(session, company_id, merged_id)
    ]
    _load_hook_modules()
    for hook in list(_hooks):
        hook(session, company_id, survivor_id, merged_id)
    for table, column in repository.user_references():
        repository.repoint(session, company_id, table, column, survivor_id, merged_id)
    repository.record_merge(session, company_id, survivor_id, merged_id, snapshot, clock.now())
    repository.delete_user(session, company_id, merged_id)


def find_users(
    session: Session, company_id: int, identifiers: Iterable[Identifier]
) -> dict[Identifier, int]:
    """The owner of each known identifier; unknown ones are absent. Creates nothing."""
    return repository.owners(session, company_id, identifiers)


def lock_owners(
    session: Session, company_id: int, identifiers: Iterable[Identifier], attempts: int
) -> dict[Identifier, int] | None:
    """`find_users`, with the users found row-locked (in id order) until the transaction
    ends. An erasure or a merge holding one of them when the lock was asked for may have
    deleted it, or moved the identifiers to a survivor: they are looked up again under the
    lock until the answer holds (None if it kept changing for `attempts` tries)."""
    given = list(identifiers)
    owners = find_users(session, company_id, given)
    for _attempt in range(attempts):
        repository.lock_users(session, company_id, list(owners.values()))
        again = find_users(session, company_id, given)
        if again == owners:
            return owners
        owners = again
    return None


def find_user(session: Session, company_id: int, identifier: Identifier) -> int | None:
    return repository.owners(session, company_id, [identifier]).get(identifier)


def current_user_id(session: Session, company_id: int, user_id: int) -> int | None:
    """`user_id` itself, or the survivor it was merged into; None when unknown here."""
    seen: set[int] = set()
    while not repository.user_exists(session, company_id, user_id):
        if user_id in seen:
            return None
        seen.add(user_id)
        survivor = repository.survivor_of(session, company_id, user_id)
        if survivor is None:
            return None
        user_id = survivor
    return user_id


def identifiers_of(session: Session, company_id: int, user_id: int) -> list[Identifier]:
    return repository.identifiers_of(session, company_id, user_id)


def profile(session: Session, company_id: int, user_id: int) -> UserProfile | None:
    created_at = repository.user_created_at(session, company_id, user_id)
    if created_at is None:
        return None
    merges = repository.merges_into(session, company_id, user_id)
    return UserProfile(
        user_id,
        created_at,
        repository.identifiers_of(session, company_id, user_id),
        [merge.merged_user_id for merge in merges],
    )


def identify(
    session: Session, clock: Clock, company_id: int, identifiers: Sequence[Identifier]
) -> Resolution:
    """The Identity API: link `identifiers` to one user (merging users they bridge)."""
    return resolve(session, clock, company_id, identifiers)
