"""Every admin page loads for an admin and is refused to a user; secrets stay write-only."""

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from devices.models import Multiviewer, NexxSettings, QuartzSettings, Source
from presets.models import ApplyJob, Preset
from state.models import MultiviewerState, RefreshRun, RoutingState, WindowState
from tests.fixtures.accounts import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_of_each(admin_user):
    mv = Multiviewer.objects.create(nexx_index=0, label="Studio A")
    Source.objects.create(quartz_input=1, label="CAM 1")
    now = timezone.now()
    MultiviewerState.objects.create(multiviewer=mv, layout=1, updated_at=now)
    WindowState.objects.create(multiviewer=mv, window_index=0, pcm_bars=8,
                               umd=[{"type": 1, "text": "CAM 1"}], updated_at=now)
    RoutingState.objects.create(output=1, input=1, updated_at=now)
    RefreshRun.objects.create(trigger="manual", user=admin_user, started_at=now)
    Preset.objects.create(owner=admin_user, name="Morning", payload={"format": "x"})
    ApplyJob.objects.create(user=admin_user, preset_name="Morning", document={"format": "x"},
                            selection={"multiviewers": [0], "groups": ["layout"]},
                            result={"multiviewers": []})
    QuartzSettings.load()
    NexxSettings.load()


OUR_APPS = {"accounts", "devices", "state", "presets"}


def admin_urls():
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        if opts.app_label in OUR_APPS:
            urls.append(("add", model))
            urls.append(("change", model))
    return urls


def resolve(entry):
    if isinstance(entry, str):
        return entry
    kind, model = entry
    opts = model._meta
    if kind == "add":
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    obj = model.objects.first()
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


@pytest.mark.parametrize("entry", admin_urls(), ids=str)
def test_every_admin_page_loads_for_an_admin(client, admin_user, one_of_each, entry):
    client.force_login(admin_user)
    response = client.get(resolve(entry), follow=True)
    if isinstance(entry, tuple) and entry[0] == "add":
        # Singletons, read-only state and presets have no add page: 403 is the answer there.
        assert response.status_code in (200, 403)
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("entry", admin_urls(), ids=str)
def test_every_admin_page_is_refused_to_a_user(client, operator_user, one_of_each, entry):
    client.force_login(operator_user)
    response = client.get(resolve(entry))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_pages_refused_to_anonymous(client, one_of_each):
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302


def test_user_role_cannot_log_into_admin(client):
    UserFactory(login="op", role=Role.USER)
    response = client.post(reverse("admin:login"),
                           {"username": "op", "password": "correct-horse-battery"})
    assert response.status_code == 200  # the login form again, with an error
    assert "_auth_user_id" not in client.session


def test_secrets_are_never_rendered_in_admin(client, admin_user):
    settings_row = NexxSettings.load()
    settings_row.base_url = "http://10.0.0.20/v.api/apis/"
    settings_row.api_key = "key-abcdef-0123456789"
    settings_row.jwt_password = "jwt-pass-9876543210"
    settings_row.save()
    client.force_login(admin_user)
    url = reverse("admin:devices_nexxsettings_change", args=[1])
    html = client.get(url).content.decode()
    assert "key-abcdef-0123456789" not in html
    assert "jwt-pass-9876543210" not in html
    assert html.count(">set<") >= 2 or "set" in html


def _nexx_form(**overrides):
    data = {"base_url": "http://10.0.0.20/v.api/apis/", "auth_mode": "api_key", "api_key": "",
            "jwt_username": "", "jwt_password": "", "verify_tls": "on",
            "requests_per_second": "8", "timeout": "5"}
    data.update(overrides)
    return data


def test_empty_secret_field_keeps_the_stored_secret(client, admin_user):
    row = NexxSettings.load()
    row.base_url, row.api_key = "http://10.0.0.20/v.api/apis/", "keep-me-123"
    row.save()
    client.force_login(admin_user)
    url = reverse("admin:devices_nexxsettings_change", args=[1])
    response = client.post(url, _nexx_form(timeout="7"))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.api_key == "keep-me-123" and row.timeout == 7


def test_secret_can_be_replaced_and_cleared(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:devices_nexxsettings_change", args=[1])
    NexxSettings.load()
    assert client.post(url, _nexx_form(api_key="new-key-42")).status_code == 302
    assert NexxSettings.load().api_key == "new-key-42"
    response = client.post(url, _nexx_form(auth_mode="none", clear_api_key="on"))
    assert response.status_code == 302
    assert NexxSettings.load().api_key == ""


def test_admin_form_rejects_bad_values_field_by_field(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:devices_quartzsettings_change", args=[QuartzSettings.load().pk])
    response = client.post(url, {"host": "300.2.3.4", "port": "0", "connection_style":
                                 "persistent", "source_count": "16", "output_count": "16",
                                 "connect_timeout": "2", "read_timeout": "2",
                                 "commands_per_second": "100", "max_outstanding": "32"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "host" in errors and "port" in errors
    assert QuartzSettings.load().host == ""


def test_duplicate_multiviewer_index_refused_in_admin(client, admin_user):
    Multiviewer.objects.create(nexx_index=3)
    client.force_login(admin_user)
    response = client.post(reverse("admin:devices_multiviewer_add"),
                           {"nexx_index": "3", "label": "Dup", "enabled": "on",
                            "quartz_output_base": ""})
    assert response.status_code == 200
    assert "nexx_index" in response.context["adminform"].form.errors
    assert Multiviewer.objects.count() == 1


def test_source_categories_are_set_in_the_list_filtered_and_searched(client, admin_user):
    cam = Source.objects.create(quartz_input=1, label="CAM 1", category="Cameras")
    vt = Source.objects.create(quartz_input=2, label="VT 1")
    gfx = Source.objects.create(quartz_input=3, label="GFX")
    client.force_login(admin_user)
    url = reverse("admin:devices_source_changelist")
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="form-0-category"' in response.content.decode()  # editable in the list

    # Several at once from the list, with the one text rule: a control character is refused.
    def save_categories(categories: dict) -> object:
        rows = [cam, vt, gfx]
        data = {"form-TOTAL_FORMS": "3", "form-INITIAL_FORMS": "3", "_save": "Save"}
        for i, source in enumerate(rows):
            data[f"form-{i}-id"] = str(source.pk)
            data[f"form-{i}-category"] = categories.get(source.quartz_input, source.category)
        return client.post(url, data)

    assert save_categories({2: "Playout", 3: "Graphics"}).status_code == 302
    assert dict(Source.objects.values_list("quartz_input", "category")) == {
        1: "Cameras", 2: "Playout", 3: "Graphics"}
    response = save_categories({3: "Gra\u200bphics"})
    assert response.status_code == 200 and "U+200B" in response.content.decode()
    assert Source.objects.get(pk=gfx.pk).category == "Graphics"

    Source.objects.filter(pk=gfx.pk).update(category="")

    def listed(query: dict) -> list[int]:
        response = client.get(url, query)
        return sorted(s.quartz_input for s in response.context["cl"].result_list)

    assert listed({"category": "=Cameras"}) == [1]
    assert listed({"category": "none"}) == [3]
    assert listed({"q": "Playout"}) == [2]
    changelist = client.get(url).context["cl"]
    choices = [c["display"] for c in changelist.filter_specs[0].choices(changelist)]
    assert choices == ["All", "No category", "Cameras", "Playout"]


def test_multiviewers_off_on_the_frame_are_marked_in_the_list(client, admin_user):
    Multiviewer.objects.create(nexx_index=0, label="Studio A")
    Multiviewer.objects.create(nexx_index=1, label="Studio B", enabled=False)
    client.force_login(admin_user)
    url = reverse("admin:devices_multiviewer_changelist")
    page = client.get(url).content.decode()
    assert "On the frame" in page
    assert page.count("off on the frame</span>") == 1
    assert 'class="off-on-the-frame" style="color: var(--body-quiet-color' in page
    assert '<td class="field-on_the_frame">on</td>' in page
    off_only = client.get(url, {"enabled__exact": "0"}).context["cl"].result_list
    assert [mv.label for mv in off_only] == ["Studio B"]


def test_admin_creates_user_who_must_change_password(client, admin_user):
    client.force_login(admin_user)
    source = Source.objects.create(quartz_input=9)
    response = client.post(reverse("admin:accounts_user_add"),
                           {"login": "newop", "password": "a-long-password-1", "role": "user",
                            "is_active": "on", "sources": [source.pk]})
    assert response.status_code == 302, response.content
    user = User.objects.get(login="newop")
    assert user.must_change_password and user.check_password("a-long-password-1")
    assert list(user.sources.all()) == [source]
    assert user.password.startswith("argon2")


def test_last_active_admin_cannot_be_demoted_in_admin(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_change", args=[admin_user.pk])
    response = client.post(url, {"login": "admin", "role": "user", "is_active": "on"})
    assert response.status_code == 200
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_reset_password_action_shows_temporary_password_once(client, admin_user):
    target = UserFactory(login="forgetful")
    other_client = client.__class__()
    other_client.force_login(target)
    client.force_login(admin_user)
    response = client.post(reverse("admin:accounts_user_changelist"),
                           {"action": "reset_password", "_selected_action": [target.pk]},
                           follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any("Temporary password for forgetful" in m for m in messages)
    temporary = messages[0].split(": ", 1)[1].split(" ")[0]
    target.refresh_from_db()
    assert target.must_change_password and target.check_password(temporary)
    # The target's existing session is ended.
    assert "_auth_user_id" not in other_client.session
    # Shown once: the next page does not repeat it.
    again = client.get(reverse("admin:accounts_user_changelist"))
    assert temporary not in again.content.decode()


def test_second_admin_can_be_deleted_last_cannot(client, admin_user):
    second = AdminFactory(login="second")
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_delete", args=[second.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not User.objects.filter(pk=second.pk).exists()
    url = reverse("admin:accounts_user_delete", args=[admin_user.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
