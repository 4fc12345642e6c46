import pytest

from devices.control import documents
from tests.fixtures.control import make_devices, rig  # noqa: F401 - fixtures


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """Multiviewer ids of every document built afresh (not answered from the cache)."""
    built: list[int] = []
    original = documents._shared_document

    def counting(mv, row=None):
        built.append(mv.pk)
        return original(mv, row)

    monkeypatch.setattr(documents, "_shared_document", counting)
    return built
