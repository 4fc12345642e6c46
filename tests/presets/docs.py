"""Preset documents for the tests: a valid version-1 document to start from and to spoil."""

from __future__ import annotations

import copy
import json

UMD_LAYER = {"type": 1, "text": "CAM 1", "box_colour": 0, "box_alpha": 2, "x": 10, "y": 20,
             "text_colour": 6, "text_alpha": 3, "text_size": 1, "padding": 1}


def umd(text: str = "CAM 1") -> list[dict]:
    return [{"layer": n, **UMD_LAYER, "text": text if n == 1 else ""} for n in (1, 2, 3)]


def valid_document(**top) -> dict:
    """Two multiviewers: index 0 with every group (layout 1, 4 windows), index 1 with only the
    multiviewer-wide groups."""
    doc = {
        "format": "mvcontrol.preset",
        "version": 1,
        "name": "Evening news",
        "created_at": "2026-01-05T18:00:00Z",
        "multiviewers": [
            {"nexx_index": 0, "label": "Studio A", "layout": 1, "font": 1, "outer_border": 2,
             "inner_border": 1, "output_format": 0,
             "windows": [{"window": n, "source": {"quartz_input": n, "label": f"SRC {n}"},
                          "pcm_bars": 8, "umd": umd(f"CAM {n}")} for n in (1, 2, 3, 4)]},
            {"nexx_index": 1, "label": "Studio B", "layout": 2, "font": 0, "outer_border": 0,
             "inner_border": 0, "output_format": 1},
        ],
    }
    doc.update(top)
    return doc


def spoil(doc: dict, path: str, value) -> dict:
    """A copy with the value at a dotted path ("multiviewers.0.windows.1.pcm_bars") replaced;
    value DELETE removes the key."""
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return out


DELETE = object()


def as_bytes(doc: dict) -> bytes:
    return json.dumps(doc).encode()
