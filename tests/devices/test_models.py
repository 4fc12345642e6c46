"""Constraints live in the database, not only in forms."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from devices.models import Multiviewer, NexxSettings, QuartzSettings, Source
from presets.models import Preset
from state.models import MultiviewerState, RefreshRun, RoutingState, WindowState
from tests.fixtures.accounts import UserFactory

pytestmark = pytest.mark.django_db


def raw_insert(sql: str, params: list) -> None:
    """Bypass model validation: the database itself must refuse."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize("index", [-1, 120, 500])
def test_multiviewer_index_range_enforced_by_database(index):
    with pytest.raises(IntegrityError):
        raw_insert("INSERT INTO devices_multiviewer (nexx_index, label, enabled, "
                   "quartz_output_base) VALUES (%s, '', true, 1)", [index])


@pytest.mark.parametrize("index", [0, 119])
def test_multiviewer_index_bounds_accepted(index):
    mv = Multiviewer.objects.create(nexx_index=index)
    assert mv.quartz_output_base == index * 16 + 1
    assert mv.output_for_window(3) == index * 16 + 3


def test_multiviewer_index_unique():
    Multiviewer.objects.create(nexx_index=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        Multiviewer.objects.create(nexx_index=5)


def test_source_input_unique_and_positive():
    Source.objects.create(quartz_input=7, label="CAM 7")
    with pytest.raises(IntegrityError), transaction.atomic():
        Source.objects.create(quartz_input=7)
    with pytest.raises(IntegrityError):
        raw_insert("INSERT INTO devices_source (quartz_input, label) VALUES (0, 'x')", [])


@pytest.mark.parametrize("port", [0, 65536])
def test_quartz_port_range_enforced_by_database(port):
    QuartzSettings.load()
    with pytest.raises(IntegrityError):
        raw_insert("UPDATE devices_quartz_settings SET port = %s", [port])


def test_integration_settings_are_singletons():
    QuartzSettings.load()
    NexxSettings.load()
    with pytest.raises(IntegrityError):
        raw_insert("INSERT INTO devices_nexx_settings (id, base_url, auth_mode, api_key, "
                   "jwt_username, jwt_password, verify_tls, requests_per_second, timeout, "
                   "updated_at) VALUES (2, '', 'none', '', '', '', true, 8, 5, now())", [])
    assert NexxSettings.load().requests_per_second < 10


@pytest.mark.parametrize("window", [-1, 16])
def test_window_index_range_enforced_by_database(window):
    mv = Multiviewer.objects.create(nexx_index=1)
    with pytest.raises(IntegrityError):
        raw_insert("INSERT INTO state_windows (multiviewer_id, window_index, umd, updated_at) "
                   "VALUES (%s, %s, '[]', now())", [mv.pk, window])


def test_window_state_unique_per_multiviewer_and_window():
    mv = Multiviewer.objects.create(nexx_index=1)
    WindowState.objects.create(multiviewer=mv, window_index=0, updated_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        WindowState.objects.create(multiviewer=mv, window_index=0, updated_at=timezone.now())


@pytest.mark.parametrize("layout", [0, 44])
def test_layout_range_enforced_by_database(layout):
    mv = Multiviewer.objects.create(nexx_index=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        MultiviewerState.objects.create(multiviewer=mv, layout=layout, updated_at=timezone.now())


def test_pcm_bars_only_device_values():
    mv = Multiviewer.objects.create(nexx_index=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        WindowState.objects.create(multiviewer=mv, window_index=1, pcm_bars=3,
                                   updated_at=timezone.now())


def test_routing_output_unique():
    RoutingState.objects.create(output=1, input=4, updated_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        RoutingState.objects.create(output=1, input=5, updated_at=timezone.now())


def test_deleting_a_multiviewer_leaves_no_orphan_state():
    mv = Multiviewer.objects.create(nexx_index=4)
    MultiviewerState.objects.create(multiviewer=mv, layout=2, updated_at=timezone.now())
    WindowState.objects.create(multiviewer=mv, window_index=0, updated_at=timezone.now())
    user = UserFactory()
    user.multiviewers.add(mv)
    mv.delete()
    assert not MultiviewerState.objects.exists()
    assert not WindowState.objects.exists()
    assert user.multiviewers.count() == 0


def test_deleting_a_user_removes_grants_and_presets_keeps_refresh_runs():
    user = UserFactory()
    source = Source.objects.create(quartz_input=1)
    user.sources.add(source)
    Preset.objects.create(owner=user, name="Morning", payload={})
    run = RefreshRun.objects.create(trigger="manual", user=user, started_at=timezone.now())
    user.delete()
    assert not Preset.objects.exists()
    run.refresh_from_db()
    assert run.user is None
    assert Source.objects.filter(pk=source.pk).exists()


def test_preset_name_unique_per_owner_not_globally():
    a, b = UserFactory(), UserFactory()
    Preset.objects.create(owner=a, name="Evening", payload={})
    Preset.objects.create(owner=b, name="Evening", payload={})
    with pytest.raises(IntegrityError), transaction.atomic():
        Preset.objects.create(owner=a, name="Evening", payload={})


def test_user_role_and_login_enforced_by_database():
    with pytest.raises(IntegrityError):
        raw_insert("INSERT INTO accounts_user (login, password, role, created_at, "
                   "must_change_password, is_active) VALUES ('x', '', 'root', now(), false, true)",
                   [])
    UserFactory(login="Alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(login="alice")


def test_grant_tables_have_the_seed_names():
    tables = connection.introspection.table_names()
    assert {"user_access_sources", "user_access_mvs", "state_mv", "state_windows",
            "state_routing", "accounts_session"} <= set(tables)


def test_a_source_category_follows_the_text_rule_and_survives_a_refresh():
    from django.core.exceptions import ValidationError

    from state.snapshot import write_sources

    source = Source(quartz_input=5, label="CAM 5", category="Cameras")
    source.full_clean()
    source.save()
    for bad in ("C" * 33, "Cam\teras", "\u202eCameras"):
        source.category = bad
        with pytest.raises(ValidationError) as refused:
            source.full_clean()
        assert list(refused.value.message_dict) == ["category"]
    # The router renames its sources; only an admin regroups them.
    write_sources({5: "CAMERA 5", 6: "CAM 6"})
    assert dict(Source.objects.values_list("quartz_input", "category")) == {5: "Cameras", 6: ""}
    assert Source.objects.get(quartz_input=5).label == "CAMERA 5"


def test_deleting_a_source_or_a_user_drops_their_favourites():
    user = UserFactory()
    kept, dropped = Source.objects.create(quartz_input=1), Source.objects.create(quartz_input=2)
    user.favourite_sources.set([kept, dropped])
    dropped.delete()
    assert list(user.favourite_sources.all()) == [kept]
    user.delete()
    assert not Source.objects.get(pk=kept.pk).favourited_by.exists()


def test_a_multiviewers_undo_step_goes_with_it():
    from control.models import UndoStep

    mv = Multiviewer.objects.create(nexx_index=4)
    UndoStep.objects.create(multiviewer=mv, change={"layout": 1}, description="Layout back to 1",
                            login="operator", at=timezone.now())
    mv.delete()
    assert not UndoStep.objects.exists()
