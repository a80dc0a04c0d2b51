"""Staff accounts, console sessions, sign-in rate limiting and the audit log.

Sessions live in the database (several service copies share them); the cookie carries a random token of
which only a hash is stored, so a leaked database does not sign anyone in.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from intake.storage.models import StaffSessionRow
from intake.storage.uow import Database


class StaffRole(StrEnum):
    """A staff account's role (the staff table's role column)."""

    STAFF = "staff"
    ADMIN = "admin"


ROLES = tuple(role.value for role in StaffRole)
MIN_PASSWORD = 10
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = PasswordHasher().hash("not a real password")


class SignInRefused(Exception):
    """Wrong name or password, or a disabled account (the message never says which)."""


class RateLimited(Exception):
    """Too many failed sign-ins from this client or for this name."""


@dataclass(frozen=True)
class StaffSession:
    staff_id: int
    name: str
    role: str
    csrf_token: str
    token_hash: str

    @property
    def admin(self) -> bool:
        return self.role == StaffRole.ADMIN


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who did what to which conversation, when (never what it says)."""

    staff_name: str
    action: str
    conversation_id: str | None
    at: datetime


@dataclass(frozen=True)
class SignIn:
    token: str
    session: StaffSession


def _possible_name(name: str) -> bool:
    """1 to 64 letters, digits, '.', '-' or '_'."""
    return 0 < len(name) <= 64 and name.replace("-", "").replace("_", "").replace(".", "").isalnum()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class StaffAccounts:
    db: Database
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_timeout: timedelta = timedelta(hours=12)
    max_failures: int = 5
    failure_window: timedelta = timedelta(minutes=15)
    name_max_failures: int = 50
    name_failure_window: timedelta = timedelta(hours=1)
    hasher: PasswordHasher = PasswordHasher()  # noqa: RUF009 - immutable, shared on purpose
    # Called after commit when sessions end: (staff id, None) when a member is disabled, (None, token hash)
    # at sign-out. The console ends those sessions' live streams at once.
    on_sessions_ended: Callable[[int | None, str | None], None] | None = None

    async def add(self, name: str, password: str, role: str = StaffRole.STAFF) -> None:
        name = name.strip()
        if not _possible_name(name):
            raise ValueError("a staff name is 1 to 64 letters, digits, '.', '-' or '_'")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password must be at least {MIN_PASSWORD} characters")
        password_hash = await asyncio.to_thread(self.hasher.hash, password)
        async with self.db.uow() as uow:
            if await uow.staff.by_name(name) is not None:
                raise ValueError(f"staff member {name!r} exists already")
            uow.staff.add(name, password_hash, role, self.clock())
            await uow.commit()

    async def set_disabled(self, name: str, disabled: bool = True) -> bool:
        async with self.db.uow() as uow:
            staff = await uow.staff.by_name(name)
            if staff is None:
                return False
            staff.disabled = disabled
            if disabled:
                await uow.staff.end_sessions_of(staff.id)
            await uow.commit()
        if disabled and self.on_sessions_ended is not None:
            self.on_sessions_ended(staff.id, None)
        return True

    async def names(self) -> list[str]:
        async with self.db.uow() as uow:
            return await uow.staff.enabled_names()

    def _limits(self, name: str, client: str) -> list[tuple[str, int, timedelta]]:
        """(key, most attempts, window) for each limit a sign-in counts against. The pair limit stops
        guessing from one client; the slower one per name stops guessing spread over many clients. A
        client's refused tries are not counted, so one client adds at most `max_failures` per
        `failure_window` to the name's count, far below `name_max_failures`: nobody can lock a colleague
        out from their own address (behind a proxy all would share one without the trusted-proxy
        setting)."""
        name = name.strip().casefold()
        return [
            (_hash_token(f"pair:{name}\x00{client}"), self.max_failures, self.failure_window),
            (_hash_token(f"name:{name}"), self.name_max_failures, self.name_failure_window),
        ]

    async def _record_attempt(self, limits: list[tuple[str, int, timedelta]], now: datetime) -> list[int]:
        """Records this attempt under every key, committed before the password is checked, then counts:
        an attempt whose count (its own row included) is over a limit is refused and taken back. Every
        count sees each row committed before it, so of N parallel tries at most the limit get through,
        whichever copy of the service answers them."""
        async with self.db.uow() as uow:
            ids = await uow.staff.add_attempts([key for key, _most, _window in limits], now)
            await uow.commit()
        async with self.db.uow() as uow:
            over = False
            for key, most, window in limits:
                over = over or await uow.staff.attempts_since(key, now - window) > most
            if over:
                await uow.staff.forget_attempts(ids)
                await uow.commit()
                raise RateLimited("too many failed sign-ins; wait a few minutes")
        return ids

    async def sign_in(self, name: str, password: str, client: str) -> SignIn:
        """`client` is the address the request came from (the trusted-proxy client address)."""
        now = self.clock()
        limits = self._limits(name, client)
        attempt = await self._record_attempt(limits, now)
        async with self.db.uow() as uow:
            # No account has another name, and a NUL in one would fail in PostgreSQL itself.
            staff = await uow.staff.by_name(name.strip()) if _possible_name(name.strip()) else None
        ok = await asyncio.to_thread(self._verify, staff.password_hash if staff else _DUMMY_HASH, password)
        if staff is None or staff.disabled or not ok:
            # The attempt's rows stay: they are the failure.
            raise SignInRefused("wrong name or password")
        async with self.db.uow() as uow:
            # A success clears this client's count for the name, and is not a failure of the name.
            await uow.staff.forget_attempts(attempt, key=limits[0][0])
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            row = StaffSessionRow(
                token_hash=_hash_token(token),
                staff_id=staff.id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + self.absolute_timeout,
            )
            uow.staff.add_session(row)
            uow.staff.audit(staff.name, "sign_in", None, now)
            await uow.commit()
        return SignIn(token, StaffSession(staff.id, staff.name, staff.role, csrf, row.token_hash))

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def session(self, token: str | None, *, touch: bool = True) -> StaffSession | None:
        """The valid session for a cookie token; None when absent, expired, idle or disabled. `touch`
        counts the request as activity: the console's own background refreshes and the live stream's
        re-checks do not, so a console left open on an empty desk still times out (and the line stops
        counting as staffed)."""
        # Our tokens are ASCII; a cookie may hold any bytes (undecodable ones as surrogates, which
        # encode() refuses).
        if not token or len(token) > 128 or not token.isascii():
            return None
        now = self.clock()
        async with self.db.uow() as uow:
            row = await uow.staff.session_by_hash(_hash_token(token))
            if row is None:
                return None
            staff = await uow.staff.get(row.staff_id)
            if (
                staff is None
                or staff.disabled
                or now >= row.expires_at
                or now - row.last_seen_at > self.idle_timeout
            ):
                await uow.staff.drop_session(row)
                await uow.commit()
                return None
            # Touch at most once a minute: a busy console would otherwise write on every request.
            if touch and now - row.last_seen_at > timedelta(minutes=1):
                row.last_seen_at = now
                await uow.commit()
            return StaffSession(staff.id, staff.name, staff.role, row.csrf_token, row.token_hash)

    async def sign_out(self, session: StaffSession) -> None:
        async with self.db.uow() as uow:
            await uow.staff.end_session(session.token_hash)
            uow.staff.audit(session.name, "sign_out", None, self.clock())
            await uow.commit()
        if self.on_sessions_ended is not None:
            self.on_sessions_ended(None, session.token_hash)

    async def anyone_signed_in(self) -> bool:
        """Whether a staff member holds a valid session: without one, the line counts as closed."""
        now = self.clock()
        async with self.db.uow() as uow:
            return await uow.staff.anyone_signed_in(now, now - self.idle_timeout)

    async def audit(self, staff_name: str, action: str, conversation_id: str | None) -> None:
        async with self.db.uow() as uow:
            uow.staff.audit(staff_name, action, conversation_id, self.clock())
            await uow.commit()

    async def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        async with self.db.uow() as uow:
            return [
                AuditEntry(row.staff_name, row.action, row.conversation_id, row.at)
                for row in await uow.staff.audit_log(limit)
            ]
