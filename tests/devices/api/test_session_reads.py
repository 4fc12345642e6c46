"""The session and its user read in the first statement of the busiest views
(accounts/session_reads.py): used only when Django itself would accept them, for the user they
name and no other; in every other case the request authenticates as any other does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import session_reads
from accounts.models import Session, User
from tests.fixtures.accounts import DEFAULT_PASSWORD, BrowserLikeClient
from tests.fixtures.control import OPERATOR_SOURCES
from tests.support import function_columns

pytestmark = pytest.mark.usefixtures("redis_sessions")


def logged_in(user) -> BrowserLikeClient:
    """A client logged in with its password, as the control page logs in (CSRF enforced)."""
    user.set_password(DEFAULT_PASSWORD)
    user.save()
    client = BrowserLikeClient()
    assert client.api_login(user.login).status_code == 200
    return client


def session_of(client) -> Session:
    return Session.objects.get(session_key=client.cookies["sessionid"].value)


def statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db
def test_the_function_has_the_models_columns_in_their_order():
    assert function_columns("mvcontrol_session_user") == session_reads.session_user_columns()


@pytest.mark.django_db
def test_a_session_records_its_user_and_the_user_it_names_after_a_new_login(rig):
    client = logged_in(rig.operator)
    assert session_of(client).user_id == rig.operator.pk
    assert client.post("/api/auth/logout").status_code == 204
    assert not Session.objects.exists()


def test_a_read_is_one_statement_with_the_session_and_its_user(rig):
    client = logged_in(rig.operator)
    mv = rig.mv(0)
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(f"/api/multiviewers/{mv.pk}")
    assert answer.status_code == 200, answer.content
    read = statements(queries)
    assert "mvcontrol_session_user" in read[0] and "mvcontrol_multiviewer_stamp" in read[0]
    # The document may be built once more; nothing else is read.
    assert all("mvcontrol_multiviewer_document" in q for q in read[1:]), read
    assert not any("accounts_session" in q or "accounts_user" in q for q in read)


def test_the_read_answers_as_the_read_without_the_session_row(rig, settings):
    client = logged_in(rig.operator)
    mv = rig.mv(0)
    fast = client.get(f"/api/multiviewers/{mv.pk}")
    settings.AUTHENTICATION_BACKENDS = ["accounts.backends.SessionUserBackend"]  # still fast
    assert client.get(f"/api/multiviewers/{mv.pk}").json() == fast.json()
    # A session naming the other backend authenticates as usual, with the same answer.
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    slow_client = BrowserLikeClient()
    slow_client.force_login(rig.operator, backend="django.contrib.auth.backends.ModelBackend")
    with CaptureQueriesContext(connection) as queries:
        slow = slow_client.get(f"/api/multiviewers/{mv.pk}")
    assert slow.status_code == 200 and slow.json() == fast.json()
    assert sum("mvcontrol_multiviewer_stamp" in q for q in statements(queries)) == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_grants_are_those_of_the_session_user(rig, method):
    client = logged_in(rig.operator)
    path = f"/api/multiviewers/{rig.mv(1).pk}"  # not granted to the operator
    answer = (client.get(path) if method == "GET" else
              client.post(path + "/windows/1", {"pcm_bars": 6}, format="json"))
    assert answer.status_code == 403 and answer.json()["error"] == "not_granted"
    admin = logged_in(rig.admin)
    answer = (admin.get(path) if method == "GET" else
              admin.post(path + "/windows/1", {"pcm_bars": 6}, format="json"))
    assert answer.status_code == 200, answer.content
    missing = "/api/multiviewers/999999"
    answer = client.get(missing) if method == "GET" else client.post(
        missing + "/windows/1", {"pcm_bars": 6}, format="json")
    assert answer.status_code == 404


def _expire(client):
    Session.objects.filter(session_key=client.cookies["sessionid"].value).update(
        expire_date=timezone.now() - timedelta(seconds=1))


def _delete(client):
    Session.objects.filter(session_key=client.cookies["sessionid"].value).delete()


def _deactivate(client):
    User.objects.filter(pk=session_of(client).user_id).update(is_active=False)  # no signals


def _change_password(client):
    user = User.objects.get(pk=session_of(client).user_id)
    user.set_password("another-long-password-1")
    User.objects.filter(pk=user.pk).update(password=user.password)  # no signals


def _tamper(client):
    Session.objects.filter(session_key=client.cookies["sessionid"].value).update(
        session_data="not-signed")


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("end", [_expire, _delete, _deactivate, _change_password, _tamper])
def test_a_session_django_would_refuse_is_refused(rig, method, end, redis_sessions):
    from django.core.cache import cache

    client = logged_in(rig.operator)
    path = f"/api/multiviewers/{rig.mv(0).pk}"
    assert client.get(path).status_code == 200
    end(client)
    # Redis may still hold the session and the user beside it (that copy is the usual
    # path's to judge, and lives at most 30 s for the user): forget them, as their expiry would.
    cache.clear()
    answer = (client.get(path) if method == "GET" else
              client.post(path + "/windows/1", {"pcm_bars": 6}, format="json"))
    assert answer.status_code in (401, 403), answer.content
    assert answer.json()["error"] in ("not_authenticated", "authentication_failed",
                                      "forbidden"), answer.content


def test_the_signed_data_decides_who_the_user_is_not_the_column(rig):
    """A session row whose user column was changed by hand names, by its signed data, the user
    who logged in: the request is that user's, with that user's grants."""
    client = logged_in(rig.operator)
    Session.objects.filter(session_key=client.cookies["sessionid"].value).update(
        user_id=rig.admin.pk)
    # MV 2 is the admin's to use, not the operator's.
    assert client.get(f"/api/multiviewers/{rig.mv(1).pk}").status_code == 403
    assert client.post(f"/api/multiviewers/{rig.mv(1).pk}/windows/1", {"pcm_bars": 6},
                       format="json").status_code == 403
    answer = client.get(f"/api/multiviewers/{rig.mv(0).pk}")
    assert answer.status_code == 200


def test_a_write_still_needs_its_csrf_token(rig):
    client = logged_in(rig.operator)
    client.send_csrf_token = False
    mv = rig.mv(0)
    before = client.get(f"/api/multiviewers/{mv.pk}").json()
    answer = client.post(f"/api/multiviewers/{mv.pk}/windows/1",
                         {"source": rig.source(OPERATOR_SOURCES[1]).pk, "pcm_bars": 6},
                         format="json")
    assert answer.status_code == 403 and answer.json()["error"] == "csrf_failed"
    assert client.get(f"/api/multiviewers/{mv.pk}").json() == before


def test_a_user_who_must_change_the_password_is_held_there(rig):
    client = logged_in(rig.operator)
    User.objects.filter(pk=rig.operator.pk).update(must_change_password=True)
    from django.core.cache import cache

    cache.clear()  # the user kept beside the session in Redis (at most 30 s)
    answer = client.get(f"/api/multiviewers/{rig.mv(0).pk}")
    assert answer.status_code == 403 and answer.json()["error"] == "password_change_required"


def test_a_bad_body_is_answered_after_the_multiviewer_with_the_session_read(rig):
    client = logged_in(rig.operator)
    path = f"/api/multiviewers/{rig.mv(0).pk}/windows/1"
    answer = client.post(path, b"{not json", content_type="application/json")
    assert answer.status_code == 400, answer.content
    answer = client.post(path, b"x", content_type="text/plain")
    assert answer.status_code == 415, answer.content
    # The multiviewer's checks come first, whatever the body.
    answer = client.post(f"/api/multiviewers/{rig.mv(1).pk}/windows/1", b"{not json",
                         content_type="application/json")
    assert answer.status_code == 403


def test_the_sliding_expiry_still_moves_at_most_once_a_minute(rig):
    client = logged_in(rig.operator)
    key = client.cookies["sessionid"].value
    path = f"/api/multiviewers/{rig.mv(0).pk}"
    stored = Session.objects.get(session_key=key).expire_date
    assert client.get(path).status_code == 200
    assert Session.objects.get(session_key=key).expire_date == stored  # moved by under a minute
    Session.objects.filter(session_key=key).update(expire_date=stored - timedelta(minutes=5))
    with CaptureQueriesContext(connection) as queries:
        assert client.post(path + "/windows/1", {"pcm_bars": 6}, format="json").status_code == 200
    assert Session.objects.get(session_key=key).expire_date >= stored
    assert sum("UPDATE" in q and "accounts_session" in q for q in statements(queries)) == 1


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "DELETE"])
def test_other_methods_answer_as_before(rig, method):
    client = logged_in(rig.operator)
    for path in (f"/api/multiviewers/{rig.mv(0).pk}",
                 f"/api/multiviewers/{rig.mv(0).pk}/windows/1"):
        answer = client.generic(method, path)
        if method == "HEAD" and not path.endswith("/1"):
            assert answer.status_code == 200
        elif method == "OPTIONS":
            assert answer.status_code == 200, answer.content
        else:
            assert answer.status_code == 405, (path, answer.content)
