"""The fault matrix in docs/operations.md is the one the suite runs: every row, with its status
and code."""

from __future__ import annotations

from tests.faults.conftest import FAULTS
from tests.support import BASE_DIR


def test_the_documented_table_lists_every_fault_with_its_answer():
    doc = (BASE_DIR / "docs" / "operations.md").read_text(encoding="utf-8")
    section = doc.split("### The fault matrix", 1)[1].split("\n### ", 1)[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in section.splitlines() if line.startswith("| ") and "---" not in line}
    for fault in FAULTS:
        name = fault.name.replace(".E", "`.E`")
        # The table may explain a row's name in brackets: "Quartz refused (nothing listens)".
        found = [k for k in rows if k == name or k.startswith(name + " (")]
        assert len(found) == 1, f"docs/operations.md fault matrix lacks {fault.name!r}"
        answer = rows[found[0]]
        assert answer.startswith(str(fault.status)), (fault.name, answer)
        if fault.code:
            assert f"`{fault.code}`" in answer, (fault.name, answer)
    assert rows["PostgreSQL unavailable"].startswith("503 `database_unavailable`")
