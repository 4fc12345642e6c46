"""Accounts services: who may log in (AuthService), who the users are (UserService) and what each
may see and change (AccessService).

Views, Django admin, management commands and tasks call these; they raise the domain errors of
mvcontrol/errors.py, which the API maps to its one error shape.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from importlib import import_module
from typing import NamedTuple

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_ratelimit.core import get_usage

from accounts.models import Role, User, login_key
from devices.models import Multiviewer, Source
from devices.models.inventory import WINDOWS_PER_MULTIVIEWER
from mvcontrol.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, RateLimited

# Credentials are checked here (to count attempts first); sessions name the backend that loads
# the user on later requests.
_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    http_status = 400


BAD_CREDENTIALS = "The login or the password is wrong."


def _session_store_class():
    return import_module(settings.SESSION_ENGINE).SessionStore


def _fields_error(errors: dict[str, list[str]]) -> InvalidInput:
    return InvalidInput("The request has invalid fields: " + ", ".join(sorted(errors)) + ".",
                        fields=errors)


def _login_problems(login: str) -> list[str]:
    try:
        User._meta.get_field("login").clean(login, None)
    except ValidationError as exc:
        return list(exc.messages)
    return []


def _password_problems(password: str, *, login: str, user: User | None = None) -> list[str]:
    try:
        validate_password(password, user if user is not None else User(login=login))
    except ValidationError as exc:
        return list(exc.messages)
    return []


# Unambiguous characters (no 0/O, 1/l/I) so a temporary password survives being read aloud.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generate_temporary_password() -> str:
    """16 random characters (about 79 bits) in four dash-separated groups."""
    chars = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(16))
    return "-".join(chars[i:i + 4] for i in range(0, 16, 4))


def _count_login_attempt(request: HttpRequest | None, *, group: str, key) -> None:
    usage = get_usage(request, group=group, key=key, rate=settings.LOGIN_RATE, increment=True)
    if usage is None or not usage["should_limit"]:
        return
    retry_after = max(1, int(usage["time_left"]))
    raise RateLimited(f"Too many login attempts; try again in {retry_after} s.",
                      retry_after=retry_after)


class AuthService:
    """Login sessions, the first admin, one's own password."""

    @staticmethod
    def setup_needed() -> bool:
        """True while no user exists: the first admin may then be created."""
        return not User.objects.exists()

    @staticmethod
    def create_first_admin(*, login: str, password: str) -> User:
        """Create the first admin; Conflict once any user exists.

        Race-safe: the user table is locked against inserts for the check-then-create, so two
        concurrent setups (API, command, another process) produce exactly one admin."""
        errors = {}
        if problems := _login_problems(login):
            errors["login"] = problems
        if problems := _password_problems(password, login=login):
            errors["password"] = problems
        if errors:
            raise _fields_error(errors)
        with transaction.atomic():
            # SHARE ROW EXCLUSIVE conflicts with itself and with every INSERT, not with reads.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {connection.ops.quote_name(User._meta.db_table)} "
                    "IN SHARE ROW EXCLUSIVE MODE"
                )
            if User.objects.exists():
                raise Conflict("Setup is already done: users exist. Log in, or ask an admin.",
                               code="setup_done")
            user = User(login=login, role=Role.ADMIN)
            user.set_password(password)
            user.save()
        return user

    @staticmethod
    def authenticate(*, login: str, password: str) -> User:
        """The active user with this login and password, or InvalidCredentials.

        The login is matched by its normalised form only (accounts.models.login_key): a login
        with any character outside letters, digits and `. _ - @` names no account.
        An unknown login, a wrong password and a deactivated account get the same answer, and
        each runs the password hasher once, so neither the answer nor its time tells them apart.
        """
        user = User.objects.with_login(login).first()
        if user is None:
            make_password(password)
            raise InvalidCredentials(BAD_CREDENTIALS)
        if not user.check_password(password) or not user.is_active:
            raise InvalidCredentials(BAD_CREDENTIALS)
        user.backend = _MODEL_BACKEND  # as django.contrib.auth.authenticate() marks a user
        return user

    @staticmethod
    def check_login(*, request: HttpRequest, login: str, password: str) -> User:
        """Count the attempt (per client IP and per login, LOGIN_RATE each; RateLimited when
        over) and check the credentials, without starting a session. The API login and the
        Django admin login both come through here, so they share one budget.

        The per-login budget is keyed by login_key, the normalisation the lookup uses too: every
        spelling that can reach an account spends that account's budget, and a spelling that
        cannot ("admın") spends the budget of the login it imitates."""
        _count_login_attempt(request, group="auth.login.ip", key="ip")
        key = login_key(login).key
        _count_login_attempt(request, group="auth.login.login",
                             key=lambda _group, _request: key)
        return AuthService.authenticate(login=login, password=password)

    @staticmethod
    def login(*, request: HttpRequest, login: str, password: str) -> User:
        """`check_login`, then start a new session (new session key, new CSRF token)."""
        user = AuthService.check_login(request=request, login=login, password=password)
        auth.login(request, user, backend=_MODEL_BACKEND)
        return user

    @staticmethod
    def logout(*, request: HttpRequest) -> None:
        """Delete the server-side session (the middleware then clears the cookie)."""
        auth.logout(request)

    @staticmethod
    def change_password(*, request: HttpRequest, current: str, new: str) -> User:
        """Change the logged-in user's own password, keep this session under a new key and end
        every other session of the user."""
        user = request.user
        _count_login_attempt(request, group="auth.password",
                             key=lambda _group, _request: str(user.pk))
        if not user.check_password(current):
            raise _fields_error({"current": ["The current password is wrong."]})
        if current == new:
            raise _fields_error({"new": ["The new password must differ from the current one."]})
        if problems := _password_problems(new, login=user.login, user=user):
            raise _fields_error({"new": problems})
        user.set_password(new)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        auth.update_session_auth_hash(request, user)  # rotates the session key
        UserService.end_sessions(user=user, keep_session_key=request.session.session_key)
        return user

    @staticmethod
    def purge_expired_sessions() -> int:
        """Delete expired sessions; returns how many."""
        sessions = _session_store_class().get_model_class().objects
        deleted, _ = sessions.filter(expire_date__lte=timezone.now()).delete()
        return deleted


class NewUser(NamedTuple):
    user: User
    temporary_password: str | None  # set when the service chose the initial password


class UserChange(NamedTuple):
    user: User
    temporary_password: str | None  # set when the password was reset
    sessions_ended: bool  # deactivated or reset: the user's sessions were deleted


def _lock_with_admins(user: User) -> tuple[User, int]:
    """Lock the user and every active admin, in pk order so concurrent changes queue instead of
    deadlocking. Call inside a transaction. Returns the fresh user and how many *other* active
    admins there are."""
    rows = list(
        User.objects.select_for_update()
        .filter(models.Q(pk=user.pk) | models.Q(role=Role.ADMIN, is_active=True))
        .order_by("pk")
    )
    fresh = next((row for row in rows if row.pk == user.pk), None)
    if fresh is None:
        raise NotFound(f"User {user.login} no longer exists.")
    others = sum(1 for row in rows if row.pk != fresh.pk and row.role == Role.ADMIN
                 and row.is_active)
    return fresh, others


def _refuse_last_admin(user: User, *, other_admins: int, stays_active_admin: bool,
                       action: str) -> None:
    if user.role == Role.ADMIN and user.is_active and not stays_active_admin \
            and other_admins == 0:
        raise Conflict(
            f"{user.login} is the last active admin and cannot be {action}: "
            "make another user admin first.",
            code="last_admin",
        )


class UserService:
    """Users and roles, managed by admins."""

    @staticmethod
    def list_users() -> QuerySet[User]:
        return User.objects.order_by("login")

    @staticmethod
    def get_user(*, user_id: int) -> User:
        try:
            return User.objects.get(pk=user_id)
        except User.DoesNotExist:
            raise NotFound(f"There is no user with id {user_id}.")

    @staticmethod
    def create_user(*, login: str, role: str = Role.USER, password: str | None = None) -> NewUser:
        """Create a user who must change the password at first login. Without `password`, a
        temporary one is generated and returned (once)."""
        errors = {}
        if problems := _login_problems(login):
            errors["login"] = problems
        if role not in Role.values:
            errors["role"] = [f"Choose one of: {', '.join(Role.values)}."]
        temporary = None
        if password is None:
            password = temporary = generate_temporary_password()
        elif problems := _password_problems(password, login=login):
            errors["password"] = problems
        if errors:
            raise _fields_error(errors)
        taken = Conflict(f"A user with the login {login} already exists.",
                         fields={"login": ["This login is taken."]}, code="login_taken")
        # The same normalised form as the lookup at login (and the unique constraint behind it).
        if User.objects.with_login(login).exists():
            raise taken
        user = User(login=login, role=role, must_change_password=True)
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            raise taken
        return NewUser(user, temporary)

    @staticmethod
    def update_user(*, user: User, role: str | None = None, is_active: bool | None = None,
                    reset_password: bool = False,
                    keep_session_key: str | None = None) -> UserChange:
        """Change role and/or active flag, and optionally reset the password, in one
        transaction. The last active admin stays an active admin. Deactivating or resetting
        ends the user's sessions, except `keep_session_key` while the user stays active: an
        admin resetting their own password carries on in the session they did it from (the
        caller rotates it) and must change the password before anything else."""
        if role is not None and role not in Role.values:
            raise _fields_error({"role": [f"Choose one of: {', '.join(Role.values)}."]})
        with transaction.atomic():
            fresh, other_admins = _lock_with_admins(user)
            new_role = role if role is not None else fresh.role
            new_active = is_active if is_active is not None else fresh.is_active
            demoted = fresh.role == Role.ADMIN and new_role != Role.ADMIN
            _refuse_last_admin(fresh, other_admins=other_admins,
                               stays_active_admin=new_role == Role.ADMIN and new_active,
                               action="demoted" if demoted else "deactivated")
            deactivated = fresh.is_active and not new_active
            fresh.role = new_role
            fresh.is_active = new_active
            temporary = None
            if reset_password:
                temporary = generate_temporary_password()
                fresh.set_password(temporary)
                fresh.must_change_password = True
            fresh.save()
            sessions_ended = deactivated or reset_password
            if sessions_ended:
                UserService.end_sessions(
                    user=fresh, keep_session_key=keep_session_key if fresh.is_active else None)
        return UserChange(fresh, temporary, sessions_ended)

    @staticmethod
    def reset_password(*, user: User, keep_session_key: str | None = None) -> str:
        """Give the user a new temporary password (returned once, never stored in clear), force a
        change at next login and end the user's sessions (but `keep_session_key`, see
        update_user)."""
        change = UserService.update_user(user=user, reset_password=True,
                                         keep_session_key=keep_session_key)
        user.refresh_from_db()
        return change.temporary_password

    @staticmethod
    def delete_user(*, user: User) -> None:
        """Delete a user (not the last active admin) and end their sessions."""
        with transaction.atomic():
            fresh, other_admins = _lock_with_admins(user)
            _refuse_last_admin(fresh, other_admins=other_admins, stays_active_admin=False,
                               action="deleted")
            UserService.end_sessions(user=fresh)
            try:
                fresh.delete()
            except (models.ProtectedError, models.RestrictedError):
                raise Conflict(f"{fresh.login} still owns records that must be kept; "
                               "deactivate the user instead.")

    @staticmethod
    def end_sessions(*, user: User, keep_session_key: str | None = None) -> int:
        """Delete every unexpired session of `user` except `keep_session_key`; returns how many.

        A session records its user's id in a column (accounts.Session). A request of that user
        still in flight cannot bring a deleted session back: saving it then fails (Django's
        SessionInterrupted)."""
        store_class = _session_store_class()
        doomed = list(store_class.get_model_class().objects
                      .filter(user_id=user.pk, expire_date__gt=timezone.now())
                      .exclude(session_key=keep_session_key or "")
                      .values_list("session_key", flat=True))
        for key in doomed:
            store_class(session_key=key).delete()
        return len(doomed)


# Whoever a request carries: a User, or AnonymousUser when nobody is logged in.
AnyUser = User | AnonymousUser


def _active(user: AnyUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _is_admin(user: AnyUser | None) -> bool:
    return _active(user) and user.role == Role.ADMIN


def _pk(obj) -> int:
    return obj if isinstance(obj, int) else obj.pk


def _describe_source(source: Source | int) -> str:
    if isinstance(source, int):
        source = Source.objects.filter(pk=source).first() or source
    if isinstance(source, int):
        return f"source #{source}"
    return f"source {source.quartz_input}" + (f" ({source.label})" if source.label else "")


def _describe_multiviewer(mv: Multiviewer | int) -> str:
    if isinstance(mv, int):
        mv = Multiviewer.objects.filter(pk=mv).first() or mv
    if isinstance(mv, int):
        return f"multiviewer #{mv}"
    return f"multiviewer {mv.number}" + (f" ({mv.label})" if mv.label else "")


MULTIVIEWER_OFF = "multiviewer_off"


def off_on_the_frame(names: Sequence[str], fields: dict | None = None) -> Conflict:
    """409 multiviewer_off for the multiviewers named (granted, but switched off on the
    frame)."""
    one = len(names) == 1
    return Conflict(f"{', '.join(names)} {'is' if one else 'are'} off on the frame: "
                    f"{'it' if one else 'they'} cannot be shown or changed until "
                    f"{'it is' if one else 'they are'} switched on there and the state is "
                    "refreshed.", code=MULTIVIEWER_OFF, fields=fields)


def _off_on_the_frame(mv: Multiviewer | int) -> Conflict:
    if isinstance(mv, int):
        mv = Multiviewer.objects.filter(pk=mv).first() or mv
    return off_on_the_frame([f"Multiviewer #{mv}" if isinstance(mv, int) else str(mv)])


class AccessService:
    """The one place that answers "may this user see / change this source, multiviewer, router
    output". Admins may use everything; a user only what was granted; anyone else nothing.
    Sources and multiviewers may be given as objects or primary keys.

    A multiviewer switched off on the frame (Multiviewer.enabled false, followed by every
    refresh) cannot be used by users even when granted: it shows nothing, and its window
    outputs feed no screen. It is listed to them (listed_multiviewers) so that it does not
    vanish without a note, but reading or changing it answers 409 multiviewer_off, and it is
    left out of everything else (visible_multiviewers: routing, live events, …). The grant
    stays, so access comes back when it is switched on again. Admins still see and use it (its
    snapshot says "enabled": false)."""

    @staticmethod
    def is_admin(user: AnyUser) -> bool:
        return _is_admin(user)

    @staticmethod
    def visible_sources(user: AnyUser) -> QuerySet[Source]:
        if _is_admin(user):
            return Source.objects.all()
        if _active(user):
            return Source.objects.filter(granted_users=user)
        return Source.objects.none()

    @staticmethod
    def visible_multiviewers(user: AnyUser) -> QuerySet[Multiviewer]:
        if _is_admin(user):
            return Multiviewer.objects.all()
        if _active(user):
            return Multiviewer.objects.filter(granted_users=user, enabled=True)
        return Multiviewer.objects.none()

    @staticmethod
    def listed_multiviewers(user: AnyUser) -> QuerySet[Multiviewer]:
        """The multiviewers GET /api/multiviewers lists: visible_multiviewers, and for a user
        also the granted ones switched off on the frame (marked "enabled": false there)."""
        if _is_admin(user):
            return Multiviewer.objects.all()
        if _active(user):
            return Multiviewer.objects.filter(granted_users=user)
        return Multiviewer.objects.none()

    @staticmethod
    def multiviewer_off(user: AnyUser, mv: Multiviewer | int) -> bool:
        """True when `user` holds a grant to `mv` but cannot use it because it is switched off
        on the frame (never for admins, who may use it)."""
        return (_active(user) and not _is_admin(user)
                and user.multiviewers.filter(pk=_pk(mv), enabled=False).exists())

    @staticmethod
    def can_use_source(user: AnyUser, source: Source | int) -> bool:
        if _is_admin(user):
            return True
        if not _active(user):
            return False
        return user.sources.filter(pk=_pk(source)).exists()

    @staticmethod
    def can_use_multiviewer(user: AnyUser, mv: Multiviewer | int) -> bool:
        if _is_admin(user):
            return True
        if not _active(user):
            return False
        return user.multiviewers.filter(pk=_pk(mv), enabled=True).exists()

    @staticmethod
    def can_use_output(user: AnyUser, output: int) -> bool:
        """A router output is usable when it feeds a window of a granted multiviewer that is
        switched on (quartz_output_base .. quartz_output_base + 15)."""
        if _is_admin(user):
            return True
        return _active(user) and user.multiviewers.filter(
            enabled=True, quartz_output_base__lte=output,
            quartz_output_base__gt=output - WINDOWS_PER_MULTIVIEWER,
        ).exists()

    @staticmethod
    def require_source(user: AnyUser, source: Source | int) -> None:
        if not AccessService.can_use_source(user, source):
            raise Forbidden(f"You have no access to {_describe_source(source)}.")

    @staticmethod
    def require_multiviewer(user: AnyUser, mv: Multiviewer | int) -> None:
        """Forbidden unless granted; Conflict (409 multiviewer_off) when granted but switched
        off on the frame."""
        if AccessService.can_use_multiviewer(user, mv):
            return
        if AccessService.multiviewer_off(user, mv):
            raise _off_on_the_frame(mv)
        raise Forbidden(f"You have no access to {_describe_multiviewer(mv)}.")

    @staticmethod
    def require_output(user: AnyUser, output: int) -> None:
        """Forbidden unless the output feeds a window of a granted multiviewer; Conflict (409
        multiviewer_off) when that multiviewer is granted but switched off on the frame."""
        if AccessService.can_use_output(user, output):
            return
        if _active(user):
            off = user.multiviewers.filter(
                enabled=False, quartz_output_base__lte=output,
                quartz_output_base__gt=output - WINDOWS_PER_MULTIVIEWER,
            ).order_by("nexx_index").first()
            if off is not None:
                raise _off_on_the_frame(off)
        raise Forbidden(f"You have no access to router output {output}: it is not a window "
                        "output of a multiviewer granted to you.")

    # --- favourite sources ----------------------------------------------------------------

    @staticmethod
    def sources_with_favourites(user: AnyUser) -> QuerySet[Source]:
        """visible_sources, each annotated `favourite` (True when `user` marked it)."""
        marked = User.favourite_sources.through.objects.filter(
            user_id=user.pk if _active(user) else None, source_id=models.OuterRef("pk"))
        return AccessService.visible_sources(user).annotate(favourite=models.Exists(marked))

    @staticmethod
    def set_favourite(*, user: User, source_id: int, favourite: bool) -> None:
        """Mark (or unmark) a source the user may see as one of their favourites; doing it twice
        changes nothing. NotFound for a source they may not see, as if it did not exist."""
        source = AccessService.visible_sources(user).filter(pk=source_id).first()
        if source is None:
            raise NotFound(f"Source #{source_id} does not exist.")
        if favourite:
            user.favourite_sources.add(source)  # ignores a row already there
        else:
            user.favourite_sources.remove(source)

    @staticmethod
    def grants(user: User) -> dict[str, list[int]]:
        """The sources and multiviewers explicitly granted to `user` (ids, ascending)."""
        return {
            "sources": sorted(user.sources.values_list("pk", flat=True)),
            "multiviewers": sorted(user.multiviewers.values_list("pk", flat=True)),
        }

    @staticmethod
    def set_grants(*, user: User, sources: Iterable[int],
                   multiviewers: Iterable[int]) -> dict[str, list[int]]:
        """Replace the user's grants; unknown ids are refused and nothing changes."""
        wanted = {"sources": set(sources), "multiviewers": set(multiviewers)}
        models_by_field = {"sources": Source, "multiviewers": Multiviewer}
        with transaction.atomic():
            errors = {}
            for field, ids in wanted.items():
                model = models_by_field[field]
                known = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
                if unknown := sorted(ids - known):
                    errors[field] = [f"Unknown {model._meta.verbose_name} ids: "
                                     + ", ".join(map(str, unknown)) + "."]
            if errors:
                raise _fields_error(errors)
            user.sources.set(wanted["sources"])
            user.multiviewers.set(wanted["multiviewers"])
        return AccessService.grants(user)
