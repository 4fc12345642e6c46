"""Writing the snapshot: each part in one short transaction, only after its device reads ended.

A part is what must change together for the snapshot to stay true: the multiviewers the frame
reported (discovery), one multiviewer with its windows, the router's source names, the routes and
names of a group of router outputs. A part is written whole or not at all, so a refresh that
stops half-way leaves every part it did not finish as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from devices.models import Multiviewer, Source
from devices.nexx.catalog import WINDOWS_PER_MULTIVIEWER
from devices.text import clean_device_text
from mvcontrol.events import publish
from state.models import MultiviewerState, RoutingState, WindowState
from state.planning import Discovery, MultiviewerValues

LABEL_MAX = 64


@dataclass(frozen=True)
class DiscoveryResult:
    created: list[int]  # nexx indexes of multiviewers created
    enabled: list[int]  # nexx indexes enabled on the frame
    disabled: list[int]  # nexx indexes whose row was switched off


def write_discovery(discovery: Discovery, *, full: bool) -> DiscoveryResult:
    """Create the multiviewers the frame has enabled and we did not know (labelled "MV n"), and
    follow the frame's enable flags on the rows we know. Labels are never touched: an admin may
    have named them. With `full` (every flag was read), rows beyond the frame's licensed count
    are switched off: that head does not exist on the frame."""
    created: list[int] = []
    disabled: list[int] = []
    with transaction.atomic():
        rows = {m.nexx_index: m for m in Multiviewer.objects.select_for_update()}
        for index, enabled in sorted(discovery.flags.items()):
            row = rows.get(index)
            if row is None:
                if enabled:
                    Multiviewer.objects.create(nexx_index=index, label=f"MV {index + 1}",
                                               enabled=True)
                    created.append(index)
            elif row.enabled != enabled:
                row.enabled = enabled
                row.save(update_fields=["enabled"])
                if not enabled:
                    disabled.append(index)
        if full and discovery.licensed is not None:
            gone = [i for i, row in rows.items() if i >= discovery.licensed and row.enabled]
            Multiviewer.objects.filter(nexx_index__in=gone).update(enabled=False)
            disabled.extend(gone)
            if gone:
                publish("access", user=None)  # switched off: who sees them changed
    enabled_indexes = sorted(i for i, on in discovery.flags.items() if on)
    return DiscoveryResult(created, enabled_indexes, sorted(disabled))


def write_multiviewer(values: MultiviewerValues) -> int:
    """One multiviewer's parameters and the windows of its layout; returns windows written.
    Windows beyond the layout keep their last known state (the frame still holds them)."""
    now = timezone.now()
    with transaction.atomic():
        mv, _ = Multiviewer.objects.get_or_create(
            nexx_index=values.index,
            defaults={"label": f"MV {values.index + 1}", "enabled": True},
        )
        MultiviewerState.objects.update_or_create(
            multiviewer=mv, defaults={**values.params, "updated_at": now},
        )
        WindowState.objects.bulk_create(
            [WindowState(multiviewer=mv, window_index=w.index, pcm_bars=w.pcm_bars,
                         umd=w.umd, updated_at=now) for w in values.windows],
            update_conflicts=True, unique_fields=["multiviewer", "window_index"],
            update_fields=["pcm_bars", "umd", "updated_at"],
        )
        publish("multiviewer", multiviewer=mv.pk)
    return len(values.windows)


def write_sources(names: Mapping[int, str]) -> int:
    """Create or rename the router's sources (the router is the truth of source names).
    Returns how many rows were created.

    A name is stored cleaned (devices/text.py `clean_device_text`: control characters, invisible
    formatting characters and line/paragraph separators become a space): labels follow the one
    text rule, so one odd byte in a router name neither fails the refresh nor reaches the
    control page or a preset file (which would then refuse to be read back)."""
    if not names:
        return 0
    with transaction.atomic():
        existing = set(Source.objects.filter(quartz_input__in=list(names))
                       .values_list("quartz_input", flat=True))
        Source.objects.bulk_create(
            [Source(quartz_input=n, label=clean_device_text(name)[:LABEL_MAX])
             for n, name in sorted(names.items())],
            update_conflicts=True, unique_fields=["quartz_input"], update_fields=["label"],
        )
    return len(names) - len(existing)


def write_routes(routes: Mapping[int, int | None], labels: Mapping[int, str]) -> int:
    """Routes and names of a group of router outputs, as a refresh read them.

    A route the router gave replaces the stored one. None (the router did not say) is no news:
    an output without a row gets one with its route unknown, but a route already known (from an
    earlier read, a switch, or the router's `.U` through quartz_listen) is kept with its
    `updated_at`, which says how old it is. The names are stored either way. Returns how many
    outputs the router did not give a route for kept a known route."""
    now = timezone.now()
    read = sorted(o for o, source in routes.items() if source is not None)
    unread = sorted(o for o, source in routes.items() if source is None)
    with transaction.atomic():
        kept = 0
        if unread:
            kept = RoutingState.objects.filter(output__in=unread, input__isnull=False).count()
            RoutingState.objects.bulk_create(
                [RoutingState(output=o, input=None, output_label=_label(labels, o),
                              updated_at=now) for o in unread],
                update_conflicts=True, unique_fields=["output"], update_fields=["output_label"],
            )
        if read:
            RoutingState.objects.bulk_create(
                [RoutingState(output=o, input=routes[o], output_label=_label(labels, o),
                              updated_at=now) for o in read],
                update_conflicts=True, unique_fields=["output"],
                update_fields=["input", "output_label", "updated_at"],
            )
            publish("routing", routes=[{"output": o, "input": routes[o]} for o in read])
    return kept


def _label(labels: Mapping[int, str], output: int) -> str:
    return clean_device_text(labels.get(output, ""))[:LABEL_MAX]


def apply_route_updates(routes: Mapping[int, int | None]) -> None:
    """Routes pushed by the router (`.U`): the input changes, the output's name stays."""
    if not routes:
        return
    now = timezone.now()
    with transaction.atomic():
        RoutingState.objects.bulk_create(
            [RoutingState(output=o, input=i, updated_at=now) for o, i in sorted(routes.items())],
            update_conflicts=True, unique_fields=["output"], update_fields=["input", "updated_at"],
        )
        publish("routing", routes=[{"output": o, "input": i} for o, i in sorted(routes.items())])


def mapped_outputs(*, only: int | None = None) -> list[int]:
    """Router outputs feeding the windows of the enabled multiviewers (16 each), or of the one
    multiviewer `only` (nexx index)."""
    rows: Iterable[Multiviewer]
    if only is not None:
        rows = Multiviewer.objects.filter(nexx_index=only)
    else:
        rows = Multiviewer.objects.filter(enabled=True)
    return sorted({mv.output_for_window(w)
                   for mv in rows for w in range(1, WINDOWS_PER_MULTIVIEWER + 1)})
