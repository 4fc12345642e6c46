"""The preset document without a database: reading every version, every problem by JSON path,
the canonical bytes of an export, and a fuzzer that feeds the reader anything JSON can hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from presets import document
from presets.document import (
    MAX_DOCUMENT_BYTES,
    MAX_PROBLEMS_LISTED,
    Context,
    DocumentError,
    loads,
    read,
)
from tests.presets.docs import DELETE, as_bytes, spoil, umd, valid_document

CONTEXT = Context(multiviewers={0, 1, 2}, sources=set(range(1, 33)))


def problems_of(data, context: Context = CONTEXT) -> dict[str, list[str]]:
    with pytest.raises(DocumentError) as excinfo:
        if isinstance(data, bytes | str):
            loads(data, context)
        else:
            read(data, context)
    error = excinfo.value
    assert error.code == "invalid_preset_document" and error.http_status == 400
    assert error.fields == error.problems
    return error.fields


def test_a_valid_document_is_read_with_its_groups():
    doc = read(valid_document(), CONTEXT)
    assert doc.name == "Evening news"
    assert doc.created_at == datetime(2026, 1, 5, 18, tzinfo=UTC)
    assert [mv.nexx_index for mv in doc.multiviewers] == [0, 1]
    first, second = doc.multiviewers
    assert first.groups == ["layout", "font", "borders", "output_format", "pcm", "umd",
                            "sources"]
    assert second.groups == ["layout", "font", "borders", "output_format"]
    assert [w.window for w in first.windows] == [1, 2, 3, 4]
    assert first.windows[2].source.quartz_input == 3
    assert first.windows[0].umd[0].values["text"] == "CAM 1"
    assert doc.groups == first.groups


def test_the_export_bytes_are_canonical_and_survive_a_round_trip():
    # Keys in any order, windows and multiviewers out of order, a non-UTC time: the first
    # export normalises, and from then on export → import → export is byte-identical.
    raw = valid_document(created_at="2026-01-05T19:00:00.123+01:00")
    raw["multiviewers"].reverse()
    raw["multiviewers"][1]["windows"].reverse()
    raw = json.loads(json.dumps(raw, sort_keys=True))
    first = document.dumps(loads(as_bytes(raw), CONTEXT))
    again = document.dumps(loads(first, CONTEXT))
    assert first == again
    text = first.decode()
    assert text.startswith('{\n  "format": "mvcontrol.preset",\n  "version": 1,\n'
                           '  "name": "Evening news",\n  "created_at": "2026-01-05T18:00:00Z",')
    assert text.endswith("}\n")
    assert list(json.loads(text)["multiviewers"][0]["windows"][0]["umd"][0]) == [
        "layer", "type", "text", "box_colour", "box_alpha", "x", "y", "text_colour",
        "text_alpha", "text_size", "padding"]


def test_only_saved_groups_are_written():
    raw = valid_document()
    raw["multiviewers"] = [{"nexx_index": 2, "label": "", "windows": [
        {"window": 5, "pcm_bars": 4}]}]
    doc = loads(as_bytes(raw), CONTEXT)
    assert doc.groups == ["pcm"]
    assert json.loads(document.dumps(doc))["multiviewers"] == [
        {"nexx_index": 2, "label": "", "windows": [{"window": 5, "pcm_bars": 4}]}]


@pytest.mark.parametrize(("data", "path", "words"), [
    (as_bytes(valid_document())[:-20], "$", "not valid JSON"),
    (b"", "$", "not valid JSON"),
    (b"\xff\xfe{}", "$", "not UTF-8"),
    (b"[1, 2]", "$", "JSON object"),
    (b'{"format": "mvcontrol.preset", "version": NaN}', "$", "NaN"),
    (b"[" * 100_000 + b"]" * 100_000, "$", "nested too deeply"),
])
def test_files_that_are_not_documents(data, path, words):
    problems = problems_of(data)
    assert list(problems) == [path]
    assert words in problems[path][0]


def test_a_file_over_one_mebibyte_is_refused_unread():
    data = b" " * (MAX_DOCUMENT_BYTES + 1)
    assert "at most 1048576 bytes" in problems_of(data)["$"][0]


@pytest.mark.parametrize(("change", "path", "words"), [
    (("format", "something.else"), "$.format", "not a mvcontrol preset"),
    (("format", DELETE), "$.format", "not a mvcontrol preset"),
    (("version", 2), "$.version", "newer mvcontrol"),
    (("version", 0), "$.version", "there is no version 0"),
    (("version", "1"), "$.version", "whole number"),
    (("version", True), "$.version", "whole number"),
    (("name", ""), "$.name", "must not be empty"),
    (("name", "x" * 101), "$.name", "at most 100"),
    (("name", "a\nb"), "$.name", "control characters"),
    (("name", 5), "$.name", "must be text"),
    (("created_at", "yesterday"), "$.created_at", "ISO 8601"),
    (("created_at", "2026-01-05T18:00:00"), "$.created_at", "time zone"),
    (("multiviewers", []), "$.multiviewers", "at least one"),
    (("multiviewers", {"0": {}}), "$.multiviewers", "must be a list"),
    (("extra", 1), "$.extra", "not a field"),
    (("multiviewers.0.font", 7), "$.multiviewers[0].font", "not one of the choices"),
    (("multiviewers.0.font", "1"), "$.multiviewers[0].font", "whole number"),
    (("multiviewers.0.layout", 44), "$.multiviewers[0].layout", "out of range"),
    (("multiviewers.0.layout", 2.5), "$.multiviewers[0].layout", "whole number"),
    (("multiviewers.0.outer_border", 5), "$.multiviewers[0].outer_border", "out of range"),
    (("multiviewers.0.inner_border", DELETE), "$.multiviewers[0].inner_border",
     "saved together"),
    (("multiviewers.0.nexx_index", 7), "$.multiviewers[0].nexx_index", "does not exist"),
    (("multiviewers.0.nexx_index", -1), "$.multiviewers[0].nexx_index", "device index"),
    (("multiviewers.0.label", ["Studio"]), "$.multiviewers[0].label", "must be text"),
    (("multiviewers.0.windows", {"window": 1}), "$.multiviewers[0].windows", "list of windows"),
    (("multiviewers.0.windows.1.window", 5), "$.multiviewers[0].windows[1].window",
     "not in layout 1, which has 4 windows"),
    (("multiviewers.0.windows.1.window", 1), "$.multiviewers[0].windows[1].window",
     "listed twice"),
    (("multiviewers.0.windows.1.window", "2"), "$.multiviewers[0].windows[1].window",
     "window number"),
    (("multiviewers.0.windows.1.pcm_bars", 3), "$.multiviewers[0].windows[1].pcm_bars",
     "not one of the choices"),
    (("multiviewers.0.windows.1.pcm_bars", None), "$.multiviewers[0].windows[1].pcm_bars",
     "whole number"),
    (("multiviewers.0.windows.1.source", 5), "$.multiviewers[0].windows[1].source",
     "quartz_input"),
    (("multiviewers.0.windows.1.source.quartz_input", 99),
     "$.multiviewers[0].windows[1].source.quartz_input", "not a source"),
    (("multiviewers.0.windows.1.umd", umd()[:2]), "$.multiviewers[0].windows[1].umd",
     "3 UMD layers"),
    (("multiviewers.0.windows.1.umd.2.text", "x" * 65),
     "$.multiviewers[0].windows[1].umd[2].text", "65 characters"),
    (("multiviewers.0.windows.1.umd.2.text", 12), "$.multiviewers[0].windows[1].umd[2].text",
     "must be text"),
    (("multiviewers.0.windows.1.umd.0.box_colour", 8),
     "$.multiviewers[0].windows[1].umd[0].box_colour", "not one of the choices"),
    (("multiviewers.0.windows.1.umd.0.x", 1920), "$.multiviewers[0].windows[1].umd[0].x",
     "out of range"),
    (("multiviewers.0.windows.1.umd.0.padding", DELETE),
     "$.multiviewers[0].windows[1].umd[0].padding", "is missing"),
    (("multiviewers.0.windows.1.umd.1.layer", 3), "$.multiviewers[0].windows[1].umd[1].layer",
     "must be 2"),
    (("multiviewers.0.windows.1.umd.1.colour", 3),
     "$.multiviewers[0].windows[1].umd[1].colour", "not a field"),
    (("multiviewers.0.windows.1", {"window": 2}), "$.multiviewers[0].windows[1]",
     "holds no settings"),
    (("multiviewers.1", {"nexx_index": 1, "label": ""}), "$.multiviewers[1]",
     "holds no settings"),
    (("multiviewers.1.nexx_index", 0), "$.multiviewers[1].nexx_index", "listed twice"),
])
def test_each_problem_is_named_by_its_json_path(change, path, words):
    problems = problems_of(spoil(valid_document(), *change))
    assert path in problems, problems
    assert any(words in message for message in problems[path]), problems[path]


def test_every_problem_is_listed_not_only_the_first():
    raw = spoil(valid_document(), "multiviewers.0.font", 9)
    raw = spoil(raw, "multiviewers.0.windows.0.pcm_bars", 5)
    raw = spoil(raw, "multiviewers.1.nexx_index", 50)
    raw = spoil(raw, "name", "")
    problems = problems_of(raw)
    assert set(problems) == {"$.name", "$.multiviewers[0].font",
                             "$.multiviewers[0].windows[0].pcm_bars",
                             "$.multiviewers[1].nexx_index"}
    with pytest.raises(DocumentError) as excinfo:
        read(raw, CONTEXT)
    assert excinfo.value.detail.startswith("The preset document has 4 problems")


def test_a_hopeless_file_lists_a_bounded_number_of_problems():
    raw = valid_document()
    raw["multiviewers"] = [{"nexx_index": i, "font": 9, "output_format": 9, "layout": 99}
                           for i in range(100)]
    with pytest.raises(DocumentError) as excinfo:
        read(raw, Context())
    problems = excinfo.value.fields
    assert sum(len(v) for k, v in problems.items() if k != "$") == MAX_PROBLEMS_LISTED
    assert problems["$"] == ["100 more problems are not listed; fix these first."]
    assert excinfo.value.detail.startswith("The preset document has 300 problems")


def test_references_are_checked_only_when_a_context_says_what_exists():
    raw = spoil(valid_document(), "multiviewers.0.nexx_index", 100)
    assert read(raw, Context()).multiviewers[1].nexx_index == 100
    assert "$.multiviewers[0].nexx_index" in problems_of(raw, Context(multiviewers={0, 1}))


def test_window_counts_of_the_installation_decide_which_windows_exist():
    # An installation whose layout 1 has 3 windows only.
    problems = problems_of(valid_document(), Context(window_counts={1: 3, 2: 16}))
    assert list(problems) == ["$.multiviewers[0].windows[3].window"]


def test_one_reader_per_version():
    assert set(document.READERS) == {1}
    assert document.CURRENT_VERSION == 1
    # What is written is always readable by the reader of the version it says.
    written = json.loads(document.dumps(read(valid_document())))
    assert written["version"] == document.CURRENT_VERSION
    assert document.READERS[written["version"]] is document._read_v1


@pytest.mark.parametrize(("name", "filename"), [
    ("Evening news", "Evening-news.mvpreset.json"),
    ("../../etc/passwd", "etc-passwd.mvpreset.json"),
    ('Studio "A" / ÜB', "Studio-A-B.mvpreset.json"),
    ("...", "preset.mvpreset.json"),
])
def test_export_file_names_are_safe(name, filename):
    assert document.safe_filename(name) == filename


# --- fuzzing (issue 10: the preset importer never fails other than with a validation error) ---

json_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=40,
)
# Values that look like parts of a preset, so that the fuzzer reaches the inner readers.
keys = st.sampled_from(["format", "version", "name", "created_at", "multiviewers",
                        "nexx_index", "label", "layout", "font", "outer_border", "inner_border",
                        "output_format", "windows", "window", "source", "quartz_input",
                        "pcm_bars", "umd", "layer", "type", "text", "box_colour", "x", "y"])
near_values = st.recursive(
    json_scalars | st.sampled_from(["mvcontrol.preset", "2026-01-05T18:00:00Z", 1, 0, 16, 43]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children,
                                                                      max_size=8),
    max_leaves=60,
)


def _spoil_somewhere(doc, data) -> object:
    """Replace one value anywhere in a valid document by something drawn."""
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, [*path, key])
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, [*path, i])

    walk(doc, [])
    path = data.draw(st.sampled_from(paths[1:]))
    value = data.draw(near_values)
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def _only_validation_errors(obj) -> None:
    try:
        doc = read(obj, CONTEXT)
    except DocumentError as exc:
        assert exc.fields and all(isinstance(k, str) and k.startswith("$")
                                  for k in exc.fields)
        return
    # Whatever was accepted can be written and read back to the same document.
    assert read(json.loads(document.dumps(doc)), CONTEXT) == doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_fuzz_arbitrary_json_only_ever_gives_validation_errors(obj):
    _only_validation_errors(obj)
    _only_validation_errors({"format": "mvcontrol.preset", "version": 1, "multiviewers": obj})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_spoiled_documents_only_ever_give_validation_errors(data):
    _only_validation_errors(_spoil_somewhere(valid_document(), data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_fuzz_arbitrary_bytes_only_ever_give_validation_errors(raw):
    try:
        loads(raw, CONTEXT)
    except DocumentError as exc:
        assert exc.fields
