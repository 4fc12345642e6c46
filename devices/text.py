"""The one rule for text that reaches a device or a label: UMD texts, preset names and the labels
in preset files, source and multiviewer labels. Pure: text in, answer out; no Django, no I/O.

Refused: every character of the Unicode general categories

    Cc  control characters: C0 (tab, line feed, ESC, …), DEL and C1 (U+0080..U+009F: NEL,
        CSI, …) — they break the frame's single-line UMD renderer, its parser and terminals
        that show a name;
    Cf  invisible formatting characters (zero-width space and joiners, soft hyphen, BOM,
        bidirectional marks, overrides and isolates, tags) — none is needed: the multiviewer
        draws a UMD glyph by glyph, with no text shaping and no bidirectional layout, so they are
        at best invisible there and at worst make two labels that look alike differ, or show a
        text in another order than it is stored ("Trojan Source"). No exception is made;
    Cs  lone surrogates — not characters at all, and they cannot be encoded for the device;
    Zl, Zp  the line and paragraph separators (U+2028, U+2029) — line breaks in disguise.

Everything else passes: letters and marks of any script, digits, punctuation, symbols, emoji,
spaces (U+0020, no-break and other Zs spaces), private-use characters.
"""

from __future__ import annotations

import unicodedata

#: What each refused category is called in a message.
REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Cs": "a lone surrogate",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
#: What is refused, in words, for messages that say what is allowed ("without " + REFUSED).
REFUSED = ("control characters (tabs, line breaks, invisible formatting characters, line and "
           "paragraph separators: Unicode categories Cc, Cf, Cs, Zl, Zp)")


def _is_refused(char: str) -> bool:
    return unicodedata.category(char) in REFUSED_CATEGORIES


def refused_character(text: str) -> str | None:
    """The first refused character of `text`, described ("a line separator (U+2028)"), or None
    when the text may reach a device or a label."""
    if text.isprintable():  # the common case: printable text holds no refused character
        return None
    for char in text:
        category = unicodedata.category(char)
        if category in REFUSED_CATEGORIES:
            return f"{REFUSED_CATEGORIES[category]} (U+{ord(char):04X})"
    return None


def clean_device_text(text: str) -> str:
    """Text a device reported (a router's source name), made storable: each run of refused
    characters becomes one space, or nothing where a space or an end of the text is already
    beside it.

    Replaced, not refused: the device is the truth of its names, and a refresh must not fail, or
    drop a source, over one odd byte (a Latin-1 name's 0x85 decodes to NEL). Replaced by a
    space, not removed: a separator between two words must not glue them together."""
    if text.isprintable():
        return text
    out: list[str] = []
    pending = False  # refused characters were skipped since the last kept one
    for char in text:
        if _is_refused(char):
            pending = True
            continue
        if pending and out and not out[-1].isspace() and not char.isspace():
            out.append(" ")
        pending = False
        out.append(char)
    return "".join(out)
