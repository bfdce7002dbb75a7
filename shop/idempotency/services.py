"""Storage for idempotency keys. The decorator in shop.idempotency drives the transactions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shop.db import as_utc
from shop.http import loads_json
from shop.idempotency.models import IdempotencyKey

# An in_progress row this old belongs to a request that died with its process (a finished
# request always completes or deletes its row); the key is then free again.
ABANDONED_AFTER = timedelta(minutes=10)


MAX_PATH_LENGTH = 512


@dataclass(frozen=True)
class KeyIdentity:
    scope: str
    method: str
    path: str
    key: str

    @classmethod
    def of(cls, *, scope: str, method: str, rule: str, path: str, key: str) -> KeyIdentity:
        """Keys are stored against the route pattern plus a hash of the concrete path: paths
        can carry secrets (a voucher code) that a copy of the database must not reveal."""
        digest = hashlib.sha256(path.encode()).hexdigest()
        return cls(scope=scope, method=method, path=f"{rule[:MAX_PATH_LENGTH - 65]}#{digest}",
                   key=key)


def fingerprint(body: bytes) -> str:
    """SHA-256 of the request body; JSON is canonicalised so key order does not matter."""
    canonical = body
    if body:
        try:
            canonical = json.dumps(
                loads_json(body), sort_keys=True, separators=(",", ":")
            ).encode()
        except ValueError:
            canonical = body
    return hashlib.sha256(canonical).hexdigest()


def add_in_progress(
    *, session: Session, identity: KeyIdentity, request_fingerprint: str, now: datetime,
    ttl: timedelta,
) -> IdempotencyKey:
    row = IdempotencyKey(
        key=identity.key, scope=identity.scope, method=identity.method, path=identity.path,
        request_fingerprint=request_fingerprint, status="in_progress",
        created_at=now, expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return row


def find(*, session: Session, identity: KeyIdentity) -> IdempotencyKey | None:
    return session.scalars(
        select(IdempotencyKey).where(
            IdempotencyKey.scope == identity.scope,
            IdempotencyKey.method == identity.method,
            IdempotencyKey.path == identity.path,
            IdempotencyKey.key == identity.key,
        )
    ).one_or_none()


def is_dead(row: IdempotencyKey, now: datetime) -> bool:
    """Expired, or left in progress by a request that can no longer finish it."""
    if as_utc(row.expires_at) <= now:
        return True
    return row.status == "in_progress" and as_utc(row.created_at) <= now - ABANDONED_AFTER


def discard(*, session: Session, row_id: int) -> None:
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))


def complete(
    *, session: Session, row_id: int, status: int, body: str, headers: list[list[str]]
) -> None:
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id)
        .values(status="completed", response_status=status, response_body=body,
                response_headers=headers)
    )


def purge_expired(*, session: Session, now: datetime) -> int:
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    return result.rowcount or 0
