from tests.browser.conftest import start_workers  # noqa: F401 - fixture
from tests.fixtures.control import make_devices, rig  # noqa: F401 - fixtures
