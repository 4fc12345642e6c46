"""PresetService: save multiviewer settings from the cached state, apply them back, import and
export them as files.

    PresetService.check_save(user=u, multiviewer_ids=[3])  # what u could not apply later
    saved = PresetService.save_preset(user=u, name="Evening", multiviewer_ids=[3],
                                      groups=["layout", "umd"])
    PresetService.preview_apply(user=u, preset_id=saved.preset.pk)  # counts, nothing sent
    outcome = PresetService.apply_preset(user=u, preset_id=saved.preset.pk)
    outcome.result      # per multiviewer and group: applied / skipped / failed (apply at once)
    outcome.job         # or the ApplyJob a django-q2 worker runs (large applies)
    PresetService.export_preset(user=u, preset_id=7)   # (filename, bytes)
    PresetService.import_preset(user=u, data=b"{...}")

Presets belong to their owner; every lookup is by owner, so another user's preset is "not
found". Saving reads only the snapshot (never a device). Applying sends only what differs from
the snapshot, through ControlService (its validation, edit lease and recording), with the
per-user write rate counted once per apply request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import AccessService, off_on_the_frame
from control import leases
from control.changes import source_item
from devices.errors import DeviceError
from devices.layouts import layout_catalog
from devices.models import Multiviewer, Source
from mvcontrol.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooLarge
from mvcontrol.events import publish
from mvcontrol.ratelimits import enforce
from presets import document as doc_module
from presets.document import (
    GROUPS,
    UMD_KEYS,
    Context,
    DocumentError,
    MultiviewerPart,
    PresetDocument,
    SourceRef,
    UmdLayer,
    WindowPart,
)
from presets.models import ApplyJob, Preset
from presets.plan import (
    Current,
    MultiviewerPlan,
    multiviewer_report,
    overall_status,
    plan_multiviewer,
)
from state.services import QueueUnavailable, StateService

logger = logging.getLogger(__name__)

APPLY_TASK = "presets.tasks.run_apply_job"


# --- results ---------------------------------------------------------------------------------


@dataclass
class SavedPreset:
    preset: Preset
    document: PresetDocument
    #: Windows whose source could not be saved (route unknown, or an input that is no source).
    warnings: list[str] = field(default_factory=list)


@dataclass
class ApplyOutcome:
    """Either the result of an apply done at once, or the job that will do it."""

    result: dict | None = None
    job: ApplyJob | None = None
    parameters: int = 0
    #: The first device failure of an apply done at once (the API answers with its status).
    error: DeviceError | None = None


def apply_error(outcome: ApplyOutcome) -> DomainError:
    """The API's answer to an apply done at once in which a device failed: the device error's
    code and status, with the per-multiviewer result under "result"."""
    error = outcome.error
    result = outcome.result or {}
    how = "was applied in part" if result.get("status") == "partial" else "was not applied"
    name = (result.get("preset") or {}).get("name", "")
    return DomainError(f"Preset {name!r} {how}: {error.detail}", code=error.code,
                       http_status=error.http_status,
                       extra={"device": error.device, "result": result})


@dataclass
class _Target:
    multiviewer: Multiviewer
    part: MultiviewerPart
    plan: MultiviewerPlan | None = None


def _window_counts() -> dict[int, int]:
    return {number: geometry.window_count for number, geometry in layout_catalog().items()}


def _describe_mv(mv: Multiviewer) -> str:
    return f"multiviewer {mv.number}" + (f" ({mv.label})" if mv.label else "")


def _describe_source(source: Source) -> str:
    return f"source {source.quartz_input}" + (f" ({source.label})" if source.label else "")


def _mv_json(mv: Multiviewer | None, part: MultiviewerPart) -> dict:
    return {"id": mv.pk if mv else None, "number": part.number,
            "label": str(mv) if mv else part.label}


def _current(mv: Multiviewer) -> Current:
    """The snapshot of one multiviewer in the terms of a preset (window numbers 1-based)."""
    snapshot = StateService.multiviewer_snapshot(mv)
    state = snapshot.state
    params = {key: getattr(state, key) if state else None
              for key in ("layout", "font", "outer_border", "inner_border", "output_format")}
    windows = {w.window_index + 1: {"pcm_bars": w.pcm_bars, "umd": w.umd}
               for w in snapshot.windows}
    routes = {}
    for number in range(1, 17):
        route = snapshot.routes.get(mv.output_for_window(number))
        routes[number] = route.input if route else None
    return Current(params, windows, routes)


# --- the service -----------------------------------------------------------------------------


class PresetService:
    # --- reading ---------------------------------------------------------------------------

    @staticmethod
    def list_presets(*, user) -> list[Preset]:
        """The user's own presets, by name (admins too see only their own)."""
        return list(Preset.objects.filter(owner=user).order_by("name", "pk"))

    @staticmethod
    def get_preset(*, user, preset_id: int) -> Preset:
        preset = Preset.objects.filter(owner=user, pk=preset_id).first()
        if preset is None:
            raise NotFound(f"Preset {preset_id} does not exist (or is not yours).")
        return preset

    @staticmethod
    def document(preset: Preset) -> PresetDocument:
        """The stored document, read through the reader of its version. Conflict
        (preset_unreadable) when it cannot be read, which only a hand-edited database row can
        cause: everything stored went through the reader first."""
        try:
            return doc_module.read(preset.payload)
        except DocumentError as exc:
            path, messages = next(iter(exc.fields.items()))
            raise Conflict(f"Preset {preset.name!r} is stored in a form this program cannot "
                           f"read ({path}: {messages[0]}); delete it and import it again.",
                           code="preset_unreadable") from None

    @staticmethod
    def describe(preset: Preset, *, full: bool = False) -> dict:
        """A preset as the API shows it; `full` adds the document itself."""
        try:
            doc = PresetService.document(preset)
        except Conflict:
            # Still listed, so that its owner can see it and delete it.
            doc = PresetDocument(preset.name, preset.created_at, ())
        known = {mv.nexx_index: mv for mv in Multiviewer.objects.filter(
            nexx_index__in=[part.nexx_index for part in doc.multiviewers])}
        body = {
            "id": preset.pk,
            "name": preset.name,
            "created_at": preset.created_at,
            "groups": doc.groups,
            "multiviewers": [{**_mv_json(known.get(part.nexx_index), part),
                              "nexx_index": part.nexx_index, "groups": part.groups,
                              "windows": len(part.windows)}
                             for part in doc.multiviewers],
        }
        if full:
            body["document"] = doc_module.to_json(doc)
        return body

    # --- save, delete, import, export ------------------------------------------------------

    @staticmethod
    def save_preset(*, user, name: str, multiviewer_ids: Sequence[int],
                    groups: Iterable[str] = GROUPS) -> SavedPreset:
        """Save the cached state of the multiviewers (granted ones only) for the groups asked.

        Windows saved are those of the layout in force; a window's source is the router input
        routed to its output, saved when it is a registered source."""
        problem = doc_module.name_problem(name)
        wanted, mvs = _save_choice(user, multiviewer_ids, groups,
                                   {"name": [f"The name {problem}."]} if problem else {})
        name = name.strip()
        counts = _window_counts()
        sources = {s.quartz_input: s for s in Source.objects.all()}
        parts: list[MultiviewerPart] = []
        warnings: list[str] = []
        unread: dict[str, list[str]] = {}
        for mv in mvs:
            part, missing_values, notes = _part_from_state(mv, wanted, counts, sources)
            if not missing_values and not part.groups:
                missing_values = [f"nothing of {mv} can be saved for "
                                  f"{', '.join(wanted)}: no window has a known source"]
            if missing_values:
                unread[f"multiviewers.{mv.pk}"] = missing_values
            warnings += notes
            parts.append(part)
        if unread:
            raise Conflict("The cached state does not hold every value to save yet; refresh the "
                           "state (POST /api/refresh) and save again.", code="state_incomplete",
                           fields=unread)
        created = timezone.now().replace(microsecond=0)
        doc = PresetDocument(name, created, tuple(parts))
        try:
            # Through the reader, so that what is stored is always a readable document.
            doc = doc_module.read(doc_module.to_json(doc), Context(window_counts=counts))
        except DocumentError as exc:
            raise Conflict("The cached state holds values a preset cannot hold: "
                           + exc.detail.split("First: ", 1)[-1], code="state_invalid",
                           fields=exc.fields) from None
        preset = _store(user=user, doc=doc)
        return SavedPreset(preset, doc, warnings)

    @staticmethod
    def check_save(*, user, multiviewer_ids: Sequence[int],
                   groups: Iterable[str] = GROUPS) -> dict:
        """What saving these multiviewers and groups would store that `user` could not apply
        later, per group: {"not_applicable": {"sources": ["MV 2 window 3: 12: CAM 12", …]}}
        (the routed sources not granted to them; {} when they could apply it all). The same
        400/403/409 as save_preset for a bad choice; nothing is stored and no device is asked."""
        wanted, mvs = _save_choice(user, multiviewer_ids, groups, {})
        not_applicable: dict[str, list[str]] = {}
        if "sources" in wanted:
            usable = set(AccessService.visible_sources(user).values_list("quartz_input",
                                                                          flat=True))
            sources = {s.quartz_input: s for s in Source.objects.exclude(
                quartz_input__in=usable)}
            counts = _window_counts()
            refused = []
            for mv in mvs:
                current = _current(mv)
                # The windows a save holds: those of the layout in force (none while unknown).
                windows = counts.get(current.params.get("layout"), 0)
                for number in range(1, windows + 1):
                    source = sources.get(current.routes.get(number))
                    if source is not None:
                        refused.append(f"{mv} window {number}: {source}")
            if refused:
                not_applicable["sources"] = refused
        return {"not_applicable": not_applicable}

    @staticmethod
    def delete_preset(*, user, preset_id: int) -> None:
        PresetService.get_preset(user=user, preset_id=preset_id).delete()

    @staticmethod
    def import_preset(*, user, data: bytes, name: str | None = None) -> Preset:
        """Store a preset file. Refused whole (nothing stored) when over 1 MiB (413) or when
        anything in it is wrong (400 listing every problem by JSON path). `name` replaces the
        file's name."""
        if len(data) > doc_module.MAX_DOCUMENT_BYTES:
            raise too_large(len(data))
        context = Context(
            multiviewers=set(Multiviewer.objects.values_list("nexx_index", flat=True)),
            sources=set(Source.objects.values_list("quartz_input", flat=True)),
            window_counts=_window_counts())
        doc = doc_module.loads(data, context)
        if name is not None:
            problem = doc_module.name_problem(name)
            if problem:
                message = f"The name {problem}."
                raise InvalidInput(message, fields={"name": [message]})
            doc = PresetDocument(name.strip(), doc.created_at, doc.multiviewers)
        return _store(user=user, doc=doc)

    @staticmethod
    def export_preset(*, user, preset_id: int) -> tuple[str, bytes]:
        """(download file name, file content) of the user's preset, in the current version."""
        preset = PresetService.get_preset(user=user, preset_id=preset_id)
        return doc_module.safe_filename(preset.name), doc_module.dumps(
            PresetService.document(preset))

    # --- apply -----------------------------------------------------------------------------

    @staticmethod
    def apply_preset(*, user, preset_id: int, multiviewer_ids: Sequence[int] | None = None,
                     groups: Iterable[str] | None = None) -> ApplyOutcome:
        """Apply the user's preset (or the multiviewers and groups chosen of it).

        Everything is checked before anything is sent: the choice, the grants (403 naming what
        is not granted), the sources, the write rate (once for the whole apply) and the edit
        leases. Up to MAX_PARAMS_PER_REQUEST parameters to send are applied at once; more
        become a background job."""
        preset = PresetService.get_preset(user=user, preset_id=preset_id)
        doc = PresetService.document(preset)
        targets, chosen_groups = _select(doc, multiviewer_ids, groups)
        _require_grants(user, targets, chosen_groups)
        sources = _sources_for(targets, chosen_groups)
        counts = _window_counts()
        for target in targets:
            target.plan = plan_multiviewer(target.part, _current(target.multiviewer),
                                           chosen_groups, counts)
        total = sum(t.plan.parameter_count() for t in targets)
        if total == 0:
            # Nothing differs: no rate, no lease, no device request.
            result = _result(preset.pk, doc.name, [
                (t, multiviewer_report(t.plan), 0) for t in targets])
            return ApplyOutcome(result=result, parameters=0)
        from control.services import WRITE_RATE_GROUP

        enforce(group=WRITE_RATE_GROUP, key=str(user.pk), rate=settings.WRITE_RATE,
                what="changes")
        for target in targets:
            if not target.plan.empty:
                leases.acquire(multiviewer=target.multiviewer, user=user)
        if total > settings.MAX_PARAMS_PER_REQUEST:
            job = _enqueue(user=user, preset=preset, doc=doc, targets=targets,
                           groups=chosen_groups, total=total)
            return ApplyOutcome(job=job, parameters=total)
        reports, error = _run(user=user, targets=targets, sources=sources, enforce_size=True)
        return ApplyOutcome(result=_result(preset.pk, doc.name, reports), parameters=total,
                            error=error)

    @staticmethod
    def preview_apply(*, user, preset_id: int, multiviewer_ids: Sequence[int] | None = None,
                      groups: Iterable[str] | None = None) -> dict:
        """What apply_preset would send now, planned as it plans against the cached state
        (only differences): per multiviewer the parameters and their count per chosen group,
        the total, and whether it would run as a background job. The choice is checked as apply
        checks it (400), but what apply would refuse for the grants is listed under `refused`
        instead of raised. No device, no rate limit, no lease."""
        preset = PresetService.get_preset(user=user, preset_id=preset_id)
        doc = PresetService.document(preset)
        targets, chosen_groups = _select(doc, multiviewer_ids, groups)
        not_granted, off, refused_sources = _refusals(user, targets, chosen_groups)
        _sources_for(targets, chosen_groups)
        counts = _window_counts()
        rows = []
        for target in targets:
            plan = plan_multiviewer(target.part, _current(target.multiviewer), chosen_groups,
                                    counts)
            per_group = plan.group_counts()
            rows.append({"multiviewer": _mv_json(target.multiviewer, target.part),
                         "parameters": plan.parameter_count(),
                         "groups": {g: per_group.get(g, 0) for g in chosen_groups}})
        total = sum(row["parameters"] for row in rows)
        return {
            "preset": {"id": preset.pk, "name": doc.name},
            "parameters": total,
            "background": total > settings.MAX_PARAMS_PER_REQUEST,
            "multiviewers": rows,
            "refused": {
                "multiviewers": [_describe_mv(mv) for mv in not_granted]
                + [f"{_describe_mv(mv)}: off on the frame" for mv in off],
                "sources": [_describe_source(source) for source in refused_sources]},
        }

    @staticmethod
    def get_job(*, user, job_id: int) -> ApplyJob:
        job = ApplyJob.objects.filter(user=user, pk=job_id).first()
        if job is None:
            raise NotFound(f"Apply job {job_id} does not exist (or is not yours).")
        return _close_if_abandoned(job)

    @staticmethod
    def describe_job(job: ApplyJob) -> dict:
        return {
            "job": job.pk,
            "status": job.status,
            "preset": {"id": job.preset_id, "name": job.preset_name},
            "progress": job.progress or {},
            "result": job.result,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
        }

    @staticmethod
    def run_job(job_id: int) -> str:
        """Execute a queued apply job (what the django-q2 worker calls); its final status, or
        "not run" when it was no longer queued."""
        claimed = ApplyJob.objects.filter(pk=job_id, status=ApplyJob.Status.QUEUED).update(
            status=ApplyJob.Status.RUNNING, started_at=timezone.now())
        if not claimed:
            return "not run"
        publish("preset_job", job=job_id)
        job = ApplyJob.objects.select_related("user").get(pk=job_id)
        try:
            status, result = _run_job(job)
        except Exception as exc:  # the job must end in a status the operator can see
            logger.exception("preset apply job %s failed", job_id)
            status = ApplyJob.Status.FAILED
            result = {"status": "failed", "preset": {"id": job.preset_id,
                                                     "name": job.preset_name},
                      "requests": 0, "multiviewers": [],
                      "error": f"The job stopped on an internal error ({exc.__class__.__name__})."
                               " The cached state holds what the devices accepted before."}
        ApplyJob.objects.filter(pk=job_id).update(status=status, result=result,
                                                  finished_at=timezone.now())
        publish("preset_job", job=job_id)
        return status


def job_deadline_seconds() -> int:
    """How long a job may stay queued or running before it counts as abandoned: the
    django-q2 retry time (a task not finished by then is never run again, max_attempts 1)."""
    cluster = settings.Q_CLUSTER
    return int(cluster.get("retry", cluster.get("timeout", 1800) + 60))


def _close_if_abandoned(job: ApplyJob) -> ApplyJob:
    """A job no worker finished in time (worker stopped or killed mid-way) is closed as failed,
    so that whoever follows it is not left waiting for ever."""
    if job.status not in (ApplyJob.Status.QUEUED, ApplyJob.Status.RUNNING):
        return job
    age = (timezone.now() - job.created_at).total_seconds()
    if age <= job_deadline_seconds():
        return job
    was = job.status
    result = {"status": "failed", "preset": {"id": job.preset_id, "name": job.preset_name},
              "requests": 0, "multiviewers": [],
              "error": ("No background worker picked the job up in time; nothing was sent."
                        if was == ApplyJob.Status.QUEUED else
                        "The background worker stopped before finishing the job; the cached "
                        "state holds what the devices accepted before. Apply the preset again "
                        "to finish it (only the differences are sent).")}
    closed = ApplyJob.objects.filter(pk=job.pk, status=was).update(
        status=ApplyJob.Status.FAILED, result=result, finished_at=timezone.now())
    if closed:
        job.refresh_from_db()
    return job


def too_large(size: int) -> TooLarge:
    limit = doc_module.MAX_DOCUMENT_BYTES
    return TooLarge(f"The preset file is {size} bytes; at most {limit} bytes (1 MiB) are "
                    "accepted.", code="preset_too_large", extra={"size": size, "limit": limit})


# --- save helpers ------------------------------------------------------------------------------


def _part_from_state(mv: Multiviewer, groups: list[str], counts: dict[int, int],
                     sources: dict[int, Source]
                     ) -> tuple[MultiviewerPart, list[str], list[str]]:
    """(part, values not read yet, notes about windows saved without a source)."""
    current = _current(mv)
    missing: list[str] = []
    values: dict[str, int | None] = {}
    wanted_params = {"layout": "layout", "font": "font", "outer_border": "borders",
                     "inner_border": "borders", "output_format": "output_format"}
    for key, group in wanted_params.items():
        if group not in groups:
            continue
        value = current.params.get(key)
        if value is None:
            missing.append(f"{key} of {mv} has not been read yet")
        values[key] = value
    windows: list[WindowPart] = []
    notes: list[str] = []
    window_groups = {"pcm", "umd", "sources"} & set(groups)
    layout = current.params.get("layout")
    if window_groups and layout is None:
        missing.append(f"the layout of {mv} has not been read yet, so its windows are unknown")
    elif window_groups:
        for number in range(1, counts.get(layout, 0) + 1):
            cached = current.windows.get(number) or {}
            pcm = umd = source = None
            if "pcm" in window_groups:
                pcm = cached.get("pcm_bars")
                if pcm is None:
                    missing.append(f"PCM bars of window {number} of {mv} have not been read yet")
            if "umd" in window_groups:
                umd = _umd_layers(cached.get("umd"))
                if umd is None:
                    missing.append(f"UMD of window {number} of {mv} has not been read yet")
            if "sources" in window_groups:
                routed = current.routes.get(number)
                if routed is None:
                    notes.append(f"{mv} window {number}: the router has not said what feeds "
                                 f"output {mv.output_for_window(number)}; its source is not "
                                 "saved.")
                elif routed not in sources:
                    notes.append(f"{mv} window {number}: router input {routed} is not a "
                                 "registered source; its source is not saved.")
                else:
                    source = SourceRef(routed, sources[routed].label)
            if pcm is not None or umd is not None or source is not None:
                windows.append(WindowPart(number, source=source, pcm_bars=pcm, umd=umd))
    part = MultiviewerPart(nexx_index=mv.nexx_index, label=str(mv), windows=tuple(windows),
                           **values)
    return part, missing, notes


def _umd_layers(raw: object) -> tuple[UmdLayer, ...] | None:
    if not isinstance(raw, list) or len(raw) != 3:
        return None
    layers = []
    for i, layer in enumerate(raw):
        if not isinstance(layer, dict) or any(layer.get(k) is None for k in UMD_KEYS):
            return None
        layers.append(UmdLayer(i + 1, {k: layer[k] for k in UMD_KEYS}))
    return tuple(layers)


def _store(*, user, doc: PresetDocument) -> Preset:
    taken = Conflict(f"You already have a preset named {doc.name!r}; choose another name or "
                     "delete that one first.", code="preset_name_taken",
                     fields={"name": ["You already have a preset with this name."]})
    if Preset.objects.filter(owner=user, name=doc.name).exists():
        raise taken
    try:
        with transaction.atomic():
            return Preset.objects.create(owner=user, name=doc.name,
                                         payload=doc_module.to_json(doc))
    except IntegrityError:  # saved by a parallel request since the check
        raise taken from None


# --- apply helpers -----------------------------------------------------------------------------


def _select(doc: PresetDocument, multiviewer_ids: Sequence[int] | None,
            groups: Iterable[str] | None) -> tuple[list[_Target], list[str]]:
    """The multiviewers (existing ones) and groups to apply; InvalidInput for a choice the
    preset cannot satisfy."""
    errors: dict[str, list[str]] = {}
    existing = {mv.nexx_index: mv for mv in Multiviewer.objects.filter(
        nexx_index__in=[p.nexx_index for p in doc.multiviewers])}
    if multiviewer_ids is None:
        parts = list(doc.multiviewers)
        gone = [p for p in parts if p.nexx_index not in existing]
        if gone:
            errors["multiviewers"] = [
                "Multiviewer(s) " + ", ".join(str(p.number) for p in gone) + " of the preset no "
                "longer exist; choose the others with 'multiviewers'."]
    else:
        by_pk = {mv.pk: mv for mv in existing.values()}
        ids = list(dict.fromkeys(multiviewer_ids))
        outside = [i for i in ids if i not in by_pk]
        if outside:
            errors["multiviewers"] = ["Not in this preset: multiviewer id(s) "
                                      + ", ".join(map(str, outside)) + "."]
        elif not ids:
            errors["multiviewers"] = ["Choose at least one multiviewer of the preset."]
        chosen = {by_pk[i].nexx_index for i in ids if i in by_pk}
        parts = [p for p in doc.multiviewers if p.nexx_index in chosen]
    held = {g for p in parts for g in p.groups}
    if groups is None:
        chosen_groups = [g for g in GROUPS if g in held]
    else:
        asked = list(dict.fromkeys(groups))
        chosen_groups = [g for g in GROUPS if g in asked]
        unknown = [g for g in asked if g not in GROUPS]
        absent = [g for g in chosen_groups if g not in held]
        if unknown:
            errors["groups"] = [f"Unknown group(s) {', '.join(unknown)}; groups are "
                                f"{', '.join(GROUPS)}."]
        elif absent:
            errors["groups"] = [f"The preset holds no {', '.join(absent)} for the chosen "
                                "multiviewers."]
        elif not chosen_groups:
            errors["groups"] = ["Choose at least one group."]
    if errors:
        raise InvalidInput("The preset cannot be applied as asked: "
                           + ", ".join(sorted(errors)) + ".", fields=errors)
    return [_Target(existing[p.nexx_index], p) for p in parts], chosen_groups


def _refusals(user, targets: list[_Target], groups: list[str]
              ) -> tuple[list[Multiviewer], list[Multiviewer], list[Source]]:
    """What apply would refuse for the grants: the multiviewers not granted, those granted but
    switched off on the frame, and the sources routed (when `sources` is applied) not granted."""
    not_granted, off = _unusable([t.multiviewer for t in targets], user)
    refused_sources: dict[int, Source] = {}
    if "sources" in groups:
        inputs = {w.source.quartz_input for t in targets for w in t.part.windows
                  if w.source is not None}
        for source in Source.objects.filter(quartz_input__in=inputs):
            if not AccessService.can_use_source(user, source):
                refused_sources[source.quartz_input] = source
    return not_granted, off, [s for _, s in sorted(refused_sources.items())]


def _unusable(mvs: Iterable[Multiviewer], user) -> tuple[list[Multiviewer], list[Multiviewer]]:
    """Of `mvs`, those not granted to `user` and those granted but switched off on the frame."""
    refused = [mv for mv in mvs if not AccessService.can_use_multiviewer(user, mv)]
    off = [mv for mv in refused if AccessService.multiviewer_off(user, mv)]
    return [mv for mv in refused if mv not in off], off


def _refuse(not_granted: list[Multiviewer], off: list[Multiviewer],
            sources: list[Source] = ()) -> None:
    """403 naming every multiviewer and source not granted; else 409 multiviewer_off naming
    those switched off on the frame."""
    if not_granted or sources:
        names = [_describe_mv(mv) for mv in not_granted] + [_describe_source(s) for s in sources]
        fields = {}
        if not_granted:
            fields["multiviewers"] = [_describe_mv(mv) for mv in not_granted]
        if sources:
            fields["sources"] = [_describe_source(s) for s in sources]
        raise Forbidden("You have no access to " + ", ".join(names) + ".", code="not_granted",
                        fields=fields)
    if off:
        raise off_on_the_frame([str(mv) for mv in off],
                               fields={"multiviewers": [f"{_describe_mv(mv)} is off on the frame."
                                                        for mv in off]})


def _require_grants(user, targets: list[_Target], groups: list[str]) -> None:
    """403 naming every multiviewer and source of the choice that is not granted; 409
    multiviewer_off for granted multiviewers switched off on the frame."""
    _refuse(*_refusals(user, targets, groups))


def _save_choice(user, multiviewer_ids: Sequence[int], groups: Iterable[str],
                 errors: dict[str, list[str]]) -> tuple[list[str], list[Multiviewer]]:
    """The groups (in GROUPS order) and the multiviewers (by index) to save: InvalidInput with
    `errors` and every problem of the choice, then 403 / 409 as _refuse."""
    groups = list(groups)
    wanted = [g for g in GROUPS if g in set(groups)]
    unknown_groups = sorted(set(groups) - set(GROUPS))
    if unknown_groups or not wanted:
        errors["groups"] = [f"Choose among {', '.join(GROUPS)}"
                            + (f"; unknown: {', '.join(unknown_groups)}." if unknown_groups
                               else ".")]
    ids = list(dict.fromkeys(multiviewer_ids))
    mvs = {mv.pk: mv for mv in Multiviewer.objects.filter(pk__in=ids)}
    if not ids:
        errors["multiviewers"] = ["Choose at least one multiviewer."]
    elif missing := [i for i in ids if i not in mvs]:
        errors["multiviewers"] = ["Unknown multiviewer ids: "
                                  + ", ".join(map(str, missing)) + "."]
    if errors:
        raise InvalidInput("The preset cannot be saved: " + ", ".join(sorted(errors)) + ".",
                           fields=errors)
    _refuse(*_unusable([mvs[i] for i in ids], user))
    return wanted, sorted(mvs.values(), key=lambda m: m.nexx_index)


def _sources_for(targets: list[_Target], groups: list[str]) -> dict[int, Source]:
    if "sources" not in groups:
        return {}
    wanted: dict[int, list[str]] = {}
    for target in targets:
        for window in target.part.windows:
            if window.source is not None:
                wanted.setdefault(window.source.quartz_input, []).append(
                    f"multiviewer {target.part.number} window {window.window}")
    found = {s.quartz_input: s for s in Source.objects.filter(quartz_input__in=wanted)}
    gone = {n: where for n, where in wanted.items() if n not in found}
    if gone:
        raise InvalidInput(
            "The preset routes router inputs that are no longer sources: "
            + ", ".join(str(n) for n in sorted(gone)) + "; leave out 'sources' or register them.",
            fields={"sources": [f"router input {n} ({', '.join(where)})"
                                for n, where in sorted(gone.items())]})
    return found


def _run(*, user, targets: list[_Target], sources: dict[int, Source], enforce_size: bool,
         on_progress=None) -> tuple[list[tuple[_Target, dict, int]], DeviceError | None]:
    """Apply each multiviewer's plan through ControlService; one multiviewer's failure does not
    stop the others. Returns (target, report, requests) per multiviewer and the first device
    error."""
    from control.services import ControlService

    reports = []
    first_error: DeviceError | None = None
    for number, target in enumerate(targets):
        plan = target.plan
        requests = 0
        if plan.empty:
            report = multiviewer_report(plan)
        else:
            try:
                outcome = ControlService.apply(
                    user=user, multiviewer=target.multiviewer, change=plan.to_change(sources),
                    enforce_rate=False, enforce_size=enforce_size, only_differences=True)
            except (DeviceError, DomainError) as exc:
                if isinstance(exc, DeviceError):
                    first_error = first_error or exc
                failed = [{"item": item, "error": exc.code, "detail": exc.detail}
                          for item in plan.items()]
                report = multiviewer_report(plan, failed=failed)
            else:
                if outcome.error is not None:
                    first_error = first_error or outcome.error
                requests = outcome.requests
                report = multiviewer_report(plan, applied=outcome.applied,
                                            skipped=outcome.skipped, failed=outcome.failed)
        reports.append((target, report, requests))
        if on_progress is not None:
            on_progress(number + 1, target)
    return reports, first_error


def _result(preset_id: int | None, name: str,
            reports: list[tuple[_Target, dict, int]]) -> dict:
    multiviewers = [{"multiviewer": _mv_json(t.multiviewer, t.part), "requests": requests,
                     **report} for t, report, requests in reports]
    return {
        "status": overall_status([m["status"] for m in multiviewers]),
        "preset": {"id": preset_id, "name": name},
        "requests": sum(m["requests"] for m in multiviewers),
        "multiviewers": multiviewers,
    }


def _enqueue(*, user, preset: Preset, doc: PresetDocument, targets: list[_Target],
             groups: list[str], total: int) -> ApplyJob:
    job = ApplyJob.objects.create(
        user=user, preset=preset, preset_name=doc.name, document=doc_module.to_json(doc),
        selection={"multiviewers": [t.part.nexx_index for t in targets], "groups": groups},
        progress={"multiviewers_done": 0, "multiviewers_total": len(targets),
                  "parameters_planned": total, "current": None})
    from django_q.tasks import async_task

    try:
        async_task(APPLY_TASK, job.pk, task_name=f"preset-apply-{job.pk}", group="presets")
    except Exception as exc:
        logger.exception("Could not queue preset apply job %s", job.pk)
        ApplyJob.objects.filter(pk=job.pk).update(
            status=ApplyJob.Status.FAILED, finished_at=timezone.now(),
            result={"status": "failed", "preset": {"id": preset.pk, "name": doc.name},
                    "requests": 0, "multiviewers": [],
                    "error": "The apply could not be handed to the background workers."})
        publish("preset_job", job=job.pk)
        raise QueueUnavailable("The apply could not be queued; try again in a moment.") from exc
    return job


def _run_job(job: ApplyJob) -> tuple[str, dict]:
    """Plan again against the state as it is now (time has passed since the request), then
    apply multiviewer by multiviewer, recording progress after each."""
    doc = doc_module.read(job.document)
    selection = job.selection or {}
    groups = [g for g in selection.get("groups", GROUPS) if g in GROUPS]
    wanted = set(selection.get("multiviewers", []))
    existing = {mv.nexx_index: mv for mv in Multiviewer.objects.filter(nexx_index__in=wanted)}
    counts = _window_counts()
    targets: list[_Target] = []
    missing_reports = []
    for part in doc.multiviewers:
        if part.nexx_index not in wanted:
            continue
        mv = existing.get(part.nexx_index)
        if mv is None:
            missing_reports.append({
                "multiviewer": _mv_json(None, part), "requests": 0, "status": "failed",
                "groups": [{"group": g, "status": "failed", "applied": [], "skipped": [],
                            "failed": [{"item": g, "error": "multiviewer_gone",
                                        "detail": f"Multiviewer {part.number} no longer "
                                                  "exists."}]}
                           for g in part.groups if g in groups]})
            continue
        target = _Target(mv, part)
        target.plan = plan_multiviewer(part, _current(mv), groups, counts)
        targets.append(target)
    sources = {s.quartz_input: s for s in Source.objects.all()} if "sources" in groups else {}
    missing_inputs = {w.source.quartz_input for t in targets for w in t.part.windows
                      if w.source is not None and "sources" in groups} - set(sources)
    for target in targets:  # sources deleted since the request: those switches fail
        for number, wp in list(target.plan.windows.items()):
            if wp.source in missing_inputs:
                target.plan.failed.append({
                    "item": source_item(number), "error": "source_gone",
                    "detail": f"Router input {wp.source} is no longer a source."})
                wp.source = None
                if wp.pcm_bars is None and not wp.umd:
                    del target.plan.windows[number]
    done_before = len(missing_reports)

    def progress(done: int, target: _Target) -> None:
        ApplyJob.objects.filter(pk=job.pk).update(progress={
            **(job.progress or {}), "multiviewers_done": done_before + done,
            "current": str(target.multiviewer)})
        publish("preset_job", job=job.pk)

    reports, _error = _run(user=job.user, targets=targets, sources=sources, enforce_size=False,
                           on_progress=progress)
    result = _result(job.preset_id, job.preset_name, reports)
    if missing_reports:
        result["multiviewers"] = missing_reports + result["multiviewers"]
        result["status"] = overall_status([m["status"] for m in result["multiviewers"]])
    return result["status"], result
