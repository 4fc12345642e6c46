"""The operator's words for what a change touches: "font", "PCM bars", "window 5, UMD layer 1
text". The API keys its `fields` by path (`windows.5.umd.1.text`); sentences use these."""

from __future__ import annotations

import re

#: Multiviewer parameters and UMD parameters, as an operator says them.
KEY_WORDS = {
    "layout": "layout",
    "font": "font",
    "outer_border": "outer border",
    "inner_border": "inner border",
    "output_format": "output format",
    "pcm_bars": "PCM bars",
    "source": "source",
    "type": "type",
    "text": "text",
    "box_colour": "box colour",
    "box_alpha": "box alpha",
    "x": "X position",
    "y": "Y position",
    "text_colour": "text colour",
    "text_alpha": "text alpha",
    "text_size": "text size",
    "padding": "padding",
}

_WINDOW_FIELD = re.compile(r"windows\.(?P<window>[^.]+)\.(?P<rest>.+)")
_LAYER_FIELD = re.compile(r"umd\.(?P<layer>[^.]+)\.(?P<key>.+)")


def words(key: str) -> str:
    return KEY_WORDS.get(key, key.replace("_", " "))


def and_list(items: list[str]) -> str:
    """"a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def place(field: str) -> str:
    """Where an API field key points, in words: "font" → "Font", "windows.5.pcm_bars" →
    "Window 5 PCM bars", "windows.5.umd.1.text" → "Window 5, UMD layer 1 text"."""
    match = _WINDOW_FIELD.fullmatch(field)
    if match is None:
        return capitalised(words(field))
    window, rest = match["window"], match["rest"]
    layer = _LAYER_FIELD.fullmatch(rest)
    if layer is not None:
        if layer["key"] == "layer":
            return f"Window {window}, UMD layer {layer['layer']}"
        return f"Window {window}, UMD layer {layer['layer']} {words(layer['key'])}"
    if rest == "window":
        return f"Window {window}"
    return f"Window {window} {words(rest)}"
