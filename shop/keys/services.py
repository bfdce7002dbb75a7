"""Re-key, under the current VOUCHER_KEY, what was made under a fallback, and count what is left.

Voucher codes (their lookup hash and their encryption), sealed emails not sent yet and two-factor
secrets can all be opened with the key that made them and made again with the current one.
Recovery codes cannot: only their keyed hash is stored, so they keep working while the key
that made them is listed in VOUCHER_KEY_FALLBACKS, and are only counted here.

Each row is changed with a conditional UPDATE on the value that was read, and each batch is its
own transaction, so re-keying can run beside the app and the worker: a row the app changed in
the meantime (a code replaced by staff, a secret re-enrolled) is left as the app wrote it, and a
sealed email the worker is sending (row-locked on PostgreSQL) is skipped and still counted under
its old key, to be re-keyed by the next run if it is still waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from shop import crypto, keyring
from shop.accounts import otp
from shop.accounts.models import RecoveryCode, User
from shop.notifications import sealing
from shop.notifications.models import OutboxEmail
from shop.vouchers import codes
from shop.vouchers.models import Voucher

BATCH_SIZE = 200


@dataclass
class Tally:
    """How many of one kind of value are under the current key, under a fallback, or under no
    listed key (made with a key since dropped, or altered); `rekeyed` by a rotation."""

    current: int = 0
    fallback: int = 0
    unreadable: int = 0
    rekeyed: int = 0  # of `current`: moved there from a fallback by this run

    def add(self, where: str) -> None:
        setattr(self, where, getattr(self, where) + 1)

    def add_rekeyed(self, done: bool) -> None:
        """A row found under a fallback: re-keyed, or left (changed meanwhile, or not asked)."""
        if done:
            self.current += 1
            self.rekeyed += 1
        else:
            self.fallback += 1


@dataclass
class RecoveryCodeTally:
    """Accounts with unused recovery codes, by the key their hashes were made with."""

    current: int = 0
    fallback: int = 0
    unlisted: int = 0  # a key in neither VOUCHER_KEY nor its fallbacks: those codes fail
    unknown: int = 0  # no key id: written by an app older than migration 0038
    accounts_on_fallbacks: list[str] = field(default_factory=list)


@dataclass
class KeyStatus:
    voucher_codes: Tally
    sealed_emails: Tally
    two_factor_secrets: Tally
    recovery_codes: RecoveryCodeTally

    @property
    def fallbacks_needed(self) -> bool:
        """Whether dropping VOUCHER_KEY_FALLBACKS now would lock something out."""
        return bool(self.voucher_codes.fallback or self.sealed_emails.fallback
                    or self.two_factor_secrets.fallback or self.recovery_codes.fallback
                    or self.recovery_codes.unknown)


def _current() -> str:
    return current_app.config["VOUCHER_KEY"]


def _batches(session: Session, stmt: Select, id_column) -> Iterator[list]:
    """The statement's rows in primary-key order, a batch per transaction."""
    last_id = 0
    while True:
        rows = list(session.scalars(stmt.where(id_column > last_id).order_by(id_column)
                                    .limit(BATCH_SIZE)))
        if not rows:
            return
        last_id = rows[-1].id
        yield rows
        session.commit()


def rekey_voucher_codes(*, session: Session, tally: Tally, write: bool) -> None:
    current = _current()
    for vouchers in _batches(session, select(Voucher), Voucher.id):
        for voucher in vouchers:
            try:
                code, secret = codes.decrypt_with_any(voucher.code_encrypted,
                                                      secrets=keyring.voucher_secrets())
            except codes.CodeDecryptionError:
                tally.add("unreadable")
                continue
            if secret == current and voucher.code_hash == codes.lookup_hash(code, secret=current):
                tally.add("current")
                continue
            tally.add_rekeyed(write and _rekey_voucher(session, voucher, code, current))


def _rekey_voucher(session: Session, voucher: Voucher, code: str, current: str) -> bool:
    return session.execute(
        update(Voucher)
        .where(Voucher.id == voucher.id, Voucher.code_encrypted == voucher.code_encrypted)
        .values(code_hash=codes.lookup_hash(code, secret=current),
                code_encrypted=codes.encrypt(code, secret=current),
                updated_at=Voucher.updated_at)  # not a change of the voucher's own
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def rekey_sealed_emails(*, session: Session, tally: Tally, write: bool) -> None:
    current_key = sealing.outbox_key()
    waiting = select(OutboxEmail).where(OutboxEmail.sealed, OutboxEmail.status != "sent")
    for emails in _batches(session, waiting, OutboxEmail.id):
        for email in emails:
            try:
                content, key = sealing.opened(email, keys=sealing.outbox_keys())
            except sealing.SealedContentError:
                tally.add("unreadable")
                continue
            if key == current_key:
                tally.add("current")
                continue
            tally.add_rekeyed(write and _reseal_email(session, email, content, current_key))


def _reseal_email(session: Session, email: OutboxEmail, content: sealing.Content,
                  key: bytes) -> bool:
    """Re-seal the email unless it was sent meanwhile or the worker is sending it now (its row
    locked, on PostgreSQL): then it is left for the next run, and counted under its key."""
    still_waiting = session.scalar(
        select(OutboxEmail.id)
        .where(OutboxEmail.id == email.id, OutboxEmail.status != "sent",
               OutboxEmail.text == email.text)
        .with_for_update(skip_locked=True))
    if still_waiting is None:
        return False
    sealing.reseal(email, content, key=key)
    return True


def rekey_two_factor_secrets(*, session: Session, tally: Tally, write: bool) -> None:
    current = _current()
    enrolled = select(User).where(User.two_factor_secret.is_not(None))
    for users in _batches(session, enrolled, User.id):
        for user in users:
            try:
                secret, voucher_key = otp.opened_secret(user)
            except crypto.UnsealError:
                tally.add("unreadable")
                continue
            if voucher_key == current:
                tally.add("current")
                continue
            tally.add_rekeyed(write and _reseal_two_factor_secret(session, user, secret))


def _reseal_two_factor_secret(session: Session, user: User, secret: str) -> bool:
    return session.execute(
        update(User)
        .where(User.id == user.id, User.two_factor_secret == user.two_factor_secret)
        .values(two_factor_secret=otp.seal_secret(user, secret), updated_at=User.updated_at)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def recovery_code_tally(*, session: Session) -> RecoveryCodeTally:
    current = crypto.key_id(_current())
    fallbacks = {crypto.key_id(secret) for secret in keyring.voucher_secrets()[1:]} - {current}
    tally = RecoveryCodeTally()
    rows = session.execute(
        select(RecoveryCode.key_id, User.email).join(User, User.id == RecoveryCode.user_id)
        .where(RecoveryCode.used_at.is_(None)).group_by(RecoveryCode.key_id, User.email)
        .order_by(User.email)
    )
    for key_id, email in rows:
        if key_id == current:
            tally.current += 1
        elif key_id in fallbacks:
            tally.fallback += 1
            tally.accounts_on_fallbacks.append(email)
        elif key_id is None:
            tally.unknown += 1
            tally.accounts_on_fallbacks.append(email)
        else:
            tally.unlisted += 1
    return tally


def status(*, session: Session, rotate: bool = False) -> KeyStatus:
    """What is under which key; with `rotate`, re-key first what a fallback opens."""
    result = KeyStatus(Tally(), Tally(), Tally(), RecoveryCodeTally())
    rekey_voucher_codes(session=session, tally=result.voucher_codes, write=rotate)
    rekey_sealed_emails(session=session, tally=result.sealed_emails, write=rotate)
    rekey_two_factor_secrets(session=session, tally=result.two_factor_secrets, write=rotate)
    result.recovery_codes = recovery_code_tally(session=session)
    session.commit()
    return result
