from tests.fixtures.control import make_devices, rig  # noqa: F401 - fixtures
