"""The undo step of a multiviewer: the last change, inverted, one step per multiviewer.

ControlService.apply builds the inverse of what the devices accepted from the cached state read
before the change (control/services.py) and records it here, replacing the step; undoing applies
it through ControlService.apply like any change and consumes it (no redo). Values whose previous
state was not known are left out: undo restores only what the cache knew.

    inverse = Inverse(layout=4)
    inverse.windows[3] = WindowInverse(source=12)      # router input 12 back to window 3
    record(mv, login="operator", inverse=inverse)      # "Layout back to 4; Window 3 back to 12: …"
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from control.changes import (
    MULTIVIEWER_PARAMS,
    UMD_KEYS,
    MultiviewerChange,
    UmdLayerChange,
    WindowChange,
    pcm_item,
    source_item,
    umd_item,
    window_items,
)
from control.models import UndoStep
from control.words import and_list, capitalised, words
from devices.models import Multiviewer, Source
from mvcontrol.errors import Conflict, InvalidInput
from mvcontrol.events import publish

NOTHING_TO_UNDO = "nothing_to_undo"
#: More windows than this are summed up ("16 windows: PCM bars, UMD layers").
WINDOWS_DESCRIBED = 3


@dataclass
class WindowInverse:
    source: int | None = None  # router input to route back
    pcm_bars: int | None = None
    umd: dict[int, dict[str, object]] = field(default_factory=dict)  # layer 1..3 → values

    @property
    def empty(self) -> bool:
        return self.source is None and self.pcm_bars is None and not self.umd


@dataclass
class Inverse:
    """What undo sends, in operator values: the layout, the other multiviewer parameters, and
    per window number its source (router input), PCM bars and UMD values by layer."""

    layout: int | None = None
    params: dict[str, object] = field(default_factory=dict)
    windows: dict[int, WindowInverse] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return (self.layout is None and not self.params
                and all(w.empty for w in self.windows.values()))

    def window(self, number: int) -> WindowInverse:
        return self.windows.setdefault(number, WindowInverse())

    def item_names(self) -> list[str]:
        """Its items as ControlService names them ("layout", "window 3 umd layer 1", …)."""
        names = ["layout"] if self.layout is not None else []
        names += [key for key in MULTIVIEWER_PARAMS if key in self.params]
        for number, w in sorted(self.windows.items()):
            names += window_items(number, pcm_bars=w.pcm_bars is not None,
                                  layers=sorted(w.umd), source=w.source is not None)
        return names

    def only(self, names: Iterable[str]) -> Inverse:
        """The part of it whose items are named (what a partial undo left to do)."""
        wanted = set(names)
        kept = Inverse(layout=self.layout if "layout" in wanted else None,
                       params={k: v for k, v in self.params.items() if k in wanted})
        for number, w in self.windows.items():
            part = WindowInverse(
                source=w.source if source_item(number) in wanted else None,
                pcm_bars=w.pcm_bars if pcm_item(number) in wanted else None,
                umd={layer: dict(values) for layer, values in w.umd.items()
                     if umd_item(number, layer) in wanted})
            if not part.empty:
                kept.windows[number] = part
        return kept

    def keep_windows(self, count: int) -> None:
        """Leave out windows beyond the first `count`: a layout restored by undo shows only its
        own windows, and the command flow refuses a change to any other (the frame keeps their
        settings meanwhile)."""
        self.windows = {n: w for n, w in self.windows.items() if n <= count and not w.empty}

    # --- stored form -------------------------------------------------------------------------

    def to_json(self) -> dict:
        doc: dict = {}
        if self.layout is not None:
            doc["layout"] = self.layout
        if self.params:
            doc["params"] = dict(self.params)
        windows = []
        for number, w in sorted(self.windows.items()):
            entry: dict = {"window": number}
            if w.source is not None:
                entry["source"] = w.source
            if w.pcm_bars is not None:
                entry["pcm_bars"] = w.pcm_bars
            if w.umd:
                entry["umd"] = [{"layer": layer, "values": dict(values)}
                                for layer, values in sorted(w.umd.items())]
            windows.append(entry)
        if windows:
            doc["windows"] = windows
        return doc

    @classmethod
    def from_json(cls, doc: Mapping) -> Inverse:
        inverse = cls(layout=doc.get("layout"), params=dict(doc.get("params") or {}))
        for entry in doc.get("windows") or []:
            inverse.windows[entry["window"]] = WindowInverse(
                source=entry.get("source"), pcm_bars=entry.get("pcm_bars"),
                umd={layer["layer"]: dict(layer["values"]) for layer in entry.get("umd") or []})
        return inverse

    # --- as a change ---------------------------------------------------------------------------

    def to_change(self, multiviewer: Multiviewer) -> MultiviewerChange:
        """The MultiviewerChange undo applies. InvalidInput when a window's previous router
        input is not a registered source (nothing can route it back: a take needs a source)."""
        inputs = [w.source for w in self.windows.values() if w.source is not None]
        sources = {s.quartz_input: s for s in Source.objects.filter(quartz_input__in=inputs)}
        errors: dict[str, list[str]] = {}
        windows = []
        for number, w in sorted(self.windows.items()):
            if w.source is not None and w.source not in sources:
                errors[f"windows.{number}.source"] = [
                    f"Router input {w.source} is not a registered source, so window {number} "
                    "cannot be routed back to it."]
                continue
            windows.append(WindowChange(
                number, source=sources.get(w.source) if w.source is not None else None,
                pcm_bars=w.pcm_bars,
                umd=[UmdLayerChange(layer, dict(values))
                     for layer, values in sorted(w.umd.items())]))
        if errors:
            raise InvalidInput(f"The last change of {multiviewer} cannot be undone: "
                               + " ".join(m for messages in errors.values() for m in messages),
                               fields=errors)
        return MultiviewerChange(windows=windows, layout=self.layout,
                                 **{k: v for k, v in self.params.items()
                                    if k in MULTIVIEWER_PARAMS})

    # --- in words ------------------------------------------------------------------------------

    def describe(self, sources: Mapping[int, Source]) -> str:
        """What undo restores, for an operator: "Layout back to 4; Window 3 back to 12: CAM 12;
        Window 5: UMD layer 1 text, PCM bars". `sources` by router input."""
        parts = []
        if self.layout is not None:
            parts.append(f"Layout back to {self.layout}")
        if self.params:
            parts.append(capitalised(and_list(
                [words(k) for k in MULTIVIEWER_PARAMS if k in self.params])))
        windows = {n: w for n, w in sorted(self.windows.items()) if not w.empty}
        if len(windows) > WINDOWS_DESCRIBED:
            kinds = [kind for kind, present in (
                ("sources", any(w.source is not None for w in windows.values())),
                ("PCM bars", any(w.pcm_bars is not None for w in windows.values())),
                ("UMD layers", any(w.umd for w in windows.values()))) if present]
            parts.append(f"{len(windows)} windows: {', '.join(kinds)}")
        else:
            parts += [_describe_window(n, w, sources) for n, w in windows.items()]
        return "; ".join(parts)


def _describe_window(number: int, w: WindowInverse, sources: Mapping[int, Source]) -> str:
    others = ["PCM bars"] if w.pcm_bars is not None else []
    for layer, values in sorted(w.umd.items()):
        keys = [k for k in UMD_KEYS if k in values]
        others.append(f"UMD layer {layer}" if len(keys) == len(UMD_KEYS)
                      else f"UMD layer {layer} {and_list([words(k) for k in keys])}")
    if w.source is None:
        return f"Window {number}: {', '.join(others)}"
    routed = sources.get(w.source)
    back = f"Window {number} back to {routed if routed else f'router input {w.source}'}"
    return back + (f" (and {', '.join(others)})" if others else "")


# --- the stored step ---------------------------------------------------------------------------


def step_of(multiviewer: Multiviewer) -> UndoStep | None:
    return UndoStep.objects.filter(multiviewer=multiviewer).first()


def required_step(multiviewer: Multiviewer) -> UndoStep:
    step = step_of(multiviewer)
    if step is None:
        raise Conflict(f"There is nothing to undo on {multiviewer}: no change was made to it "
                       "here since the last undo.", code=NOTHING_TO_UNDO)
    return step


def record(multiviewer: Multiviewer, *, login: str, inverse: Inverse,
           announce: bool = True) -> None:
    """Replace the multiviewer's step with `inverse` (an empty one removes the step: the last
    change cannot be undone, and an older step must not be undone out of order). `announce`:
    publish the multiviewer's change (the caller may publish it with its own)."""
    if inverse.empty:
        deleted, _ = UndoStep.objects.filter(multiviewer=multiviewer).delete()
        if deleted and announce:
            publish("multiviewer", multiviewer=multiviewer.pk)
        return
    inputs = [w.source for w in inverse.windows.values() if w.source is not None]
    sources = {s.quartz_input: s for s in Source.objects.filter(quartz_input__in=inputs)}
    # An upsert: two changes finishing at once leave one step, the later's.
    UndoStep.objects.bulk_create(
        [UndoStep(multiviewer=multiviewer, change=inverse.to_json(),
                  description=inverse.describe(sources), login=login, at=timezone.now())],
        update_conflicts=True, unique_fields=["multiviewer"],
        update_fields=["change", "description", "login", "at"])
    if announce:
        publish("multiviewer", multiviewer=multiviewer.pk)


def consume(step: UndoStep, *, left: Inverse, announce: bool = True) -> None:
    """While and after an undo: the step holds only what the undo has not applied yet (`left`),
    and is gone once that is nothing. A step replaced meanwhile (a change that ended while the
    undo ran) is the newer change's and is left alone. `announce` as for record()."""
    with transaction.atomic():
        current = (UndoStep.objects.select_for_update()
                   .filter(pk=step.pk, at=step.at).first())
        if current is None:
            return
        if left.empty:
            current.delete()
        else:
            stored = left.to_json()
            if current.change == stored:
                return
            inputs = [w.source for w in left.windows.values() if w.source is not None]
            sources = {s.quartz_input: s for s in Source.objects.filter(quartz_input__in=inputs)}
            current.change = stored
            current.description = left.describe(sources)
            current.save(update_fields=["change", "description"])
        if announce:
            publish("multiviewer", multiviewer=step.multiviewer_id)


def describe_step(step: UndoStep | None) -> dict | None:
    """The step as the multiviewer document shows it."""
    if step is None:
        return None
    return {"description": step.description, "login": step.login, "at": step.at}
