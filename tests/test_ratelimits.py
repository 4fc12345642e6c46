import pytest

from mvcontrol.errors import RateLimited
from mvcontrol.ratelimits import enforce


def test_allows_up_to_the_rate_then_refuses_with_retry_after():
    for _ in range(3):
        enforce(group="test", key="user-1", rate="3/m")
    with pytest.raises(RateLimited) as excinfo:
        enforce(group="test", key="user-1", rate="3/m")
    error = excinfo.value
    assert error.http_status == 429
    assert 1 <= int(error.headers["Retry-After"]) <= 60
    assert "at most 3 per minute" in error.detail


def test_keys_and_groups_are_counted_separately():
    enforce(group="test", key="user-1", rate="1/m")
    enforce(group="test", key="user-2", rate="1/m")
    enforce(group="other", key="user-1", rate="1/m")
    with pytest.raises(RateLimited):
        enforce(group="test", key="user-1", rate="1/m")


def test_disabled_rate_limits_never_refuse(settings):
    settings.RATELIMIT_ENABLE = False
    for _ in range(5):
        enforce(group="test", key="user-1", rate="1/m")
