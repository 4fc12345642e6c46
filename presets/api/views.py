"""Preset endpoints: save from the cached state, list, show, delete, apply (at once or as a
background job), export as a file and import one. Every preset is its owner's alone: another
user's preset answers 404 as if it did not exist."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mvcontrol.api_schema import ErrorSerializer
from mvcontrol.parsers import JSONParser, MultiPartParser, content_length
from presets.api.serializers import (
    ApplyJobSerializer,
    ApplyQueuedSerializer,
    ApplyResultSerializer,
    PresetApplySerializer,
    PresetCheckResultSerializer,
    PresetCheckSerializer,
    PresetCreateSerializer,
    PresetDetailSerializer,
    PresetPreviewSerializer,
    PresetSerializer,
    SavedPresetSerializer,
)
from presets.document import GROUPS, MAX_DOCUMENT_BYTES
from presets.services import PresetService, apply_error, too_large

# Room for the multipart envelope around a file of the largest accepted size.
MULTIPART_OVERHEAD = 64 * 1024

_DESCRIPTIONS = {
    400: "Invalid input: `fields` names each problem (by JSON path for a preset document).",
    401: "Not logged in.",
    403: "Not granted (not_granted: `fields` lists the multiviewers and sources), or a "
         "password change is required.",
    404: "No such preset (or job) of yours.",
    409: "Conflict: the name is taken (preset_name_taken), the cached state lacks values to "
         "save (state_incomplete), a granted multiviewer is off on the frame "
         "(multiviewer_off), another user holds an edit lease (edit_lease_held), a "
         "router output is locked (output_locked, with `result`), or the stored preset "
         "cannot be read (preset_unreadable).",
    413: "The preset file is over 1 MiB (preset_too_large; `size`, `limit`).",
    415: "Neither application/json nor multipart/form-data.",
    429: "Too many changes: see Retry-After.",
    502: "A device failed: the device error, with `result` per multiviewer and group.",
    503: "A device is not configured or busy, or the background workers are unavailable.",
    504: "A device did not answer in time, with `result`.",
}


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
            for status in statuses}


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PresetsView(APIView):
    """Your presets; save a new one from the cached state of the multiviewers chosen."""

    @extend_schema(operation_id="presets_list",
                   responses={200: PresetSerializer(many=True), **_errors(401, 403)})
    def get(self, request: Request) -> Response:
        presets = PresetService.list_presets(user=request.user)
        return Response(PresetSerializer([PresetService.describe(p) for p in presets],
                                         many=True).data)

    @extend_schema(
        operation_id="presets_save", request=PresetCreateSerializer,
        responses={201: SavedPresetSerializer, **_errors(400, 401, 403, 409, 415)},
    )
    def post(self, request: Request) -> Response:
        data = _valid(PresetCreateSerializer, request.data)
        saved = PresetService.save_preset(user=request.user, name=data["name"],
                                          multiviewer_ids=data["multiviewers"],
                                          groups=data.get("groups", GROUPS))
        body = {**PresetService.describe(saved.preset, full=True), "warnings": saved.warnings}
        return Response(SavedPresetSerializer(body).data, status=status.HTTP_201_CREATED)


class PresetCheckView(APIView):
    """Before saving: what the preset would hold that you could not apply later, per group
    (today `sources`: the routed sources not granted to you). Nothing is stored."""

    @extend_schema(
        operation_id="presets_check", request=PresetCheckSerializer,
        responses={200: PresetCheckResultSerializer, **_errors(400, 401, 403, 409, 415)},
    )
    def post(self, request: Request) -> Response:
        data = _valid(PresetCheckSerializer, request.data)
        answer = PresetService.check_save(user=request.user,
                                          multiviewer_ids=data["multiviewers"],
                                          groups=data.get("groups", GROUPS))
        return Response(PresetCheckResultSerializer(answer).data)


class PresetView(APIView):
    """One of your presets with its document; delete it."""

    @extend_schema(operation_id="preset",
                   responses={200: PresetDetailSerializer, **_errors(401, 403, 404)})
    def get(self, request: Request, preset_id: int) -> Response:
        preset = PresetService.get_preset(user=request.user, preset_id=preset_id)
        return Response(PresetDetailSerializer(PresetService.describe(preset, full=True)).data)

    @extend_schema(operation_id="preset_delete",
                   responses={204: None, **_errors(401, 403, 404)})
    def delete(self, request: Request, preset_id: int) -> Response:
        PresetService.delete_preset(user=request.user, preset_id=preset_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PresetApplyView(APIView):
    """Apply a preset (or the multiviewers and groups chosen of it) to the devices.

    Only what differs from the cached state is sent. Up to MAX_PARAMS_PER_REQUEST parameters:
    applied at once, 200 with the result per multiviewer and group. More: 202 with a job id to
    follow at GET /api/presets/jobs/{job}. When a device failed, the answer is the device
    error's status in the error shape with the same result under "result"."""

    @extend_schema(
        operation_id="preset_apply", request=PresetApplySerializer,
        responses={200: ApplyResultSerializer, 202: ApplyQueuedSerializer,
                   **_errors(400, 401, 403, 404, 409, 415, 429, 502, 503, 504)},
    )
    def post(self, request: Request, preset_id: int) -> Response:
        data = _valid(PresetApplySerializer, request.data)
        outcome = PresetService.apply_preset(user=request.user, preset_id=preset_id,
                                             multiviewer_ids=data.get("multiviewers"),
                                             groups=data.get("groups"))
        if outcome.job is not None:
            from django.conf import settings

            body = {"job": outcome.job.pk, "status": outcome.job.status,
                    "parameters": outcome.parameters, "limit": settings.MAX_PARAMS_PER_REQUEST,
                    "url": reverse("preset-job", args=[outcome.job.pk])}
            return Response(ApplyQueuedSerializer(body).data, status=status.HTTP_202_ACCEPTED)
        if outcome.error is not None:
            raise apply_error(outcome)
        return Response(ApplyResultSerializer(outcome.result).data)


class PresetPreviewView(APIView):
    """What applying the preset (or the multiviewers and groups chosen of it) would send now,
    planned against the cached state as apply plans it: counts per multiviewer and group, and
    whether it would run in the background. What apply would refuse for the grants is listed
    under `refused`. No device is asked, nothing counts against the write rate, no lease is
    taken."""

    @extend_schema(
        operation_id="preset_preview", request=PresetApplySerializer,
        responses={200: PresetPreviewSerializer, **_errors(400, 401, 403, 404, 409, 415)},
    )
    def post(self, request: Request, preset_id: int) -> Response:
        data = _valid(PresetApplySerializer, request.data)
        preview = PresetService.preview_apply(user=request.user, preset_id=preset_id,
                                              multiviewer_ids=data.get("multiviewers"),
                                              groups=data.get("groups"))
        return Response(PresetPreviewSerializer(preview).data)


class ApplyJobView(APIView):
    """A background apply: status (queued, running, done, partial, failed), progress, and the
    result once finished (same shape as an apply done at once)."""

    @extend_schema(operation_id="preset_job",
                   responses={200: ApplyJobSerializer, **_errors(401, 403, 404)})
    def get(self, request: Request, job_id: int) -> Response:
        job = PresetService.get_job(user=request.user, job_id=job_id)
        return Response(ApplyJobSerializer(PresetService.describe_job(job)).data)


class PresetExportView(APIView):
    """The preset as a file download (the versioned preset document, JSON)."""

    @extend_schema(operation_id="preset_export",
                   responses={(200, "application/json"): OpenApiTypes.OBJECT,
                              **_errors(401, 403, 404, 409)})
    def get(self, request: Request, preset_id: int) -> HttpResponse:
        filename, content = PresetService.export_preset(user=request.user, preset_id=preset_id)
        response = HttpResponse(content, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response


class PresetImportView(APIView):
    """Store a preset file: the document as the JSON body, or as the "file" of a multipart
    form. Over 1 MiB: 413 before anything is read as JSON. Any problem: 400 listing every one
    by JSON path in "fields"; nothing is stored. ?name= stores it under another name."""

    parser_classes = [JSONParser, MultiPartParser]

    def initial(self, request: Request, *args, **kwargs) -> None:
        # Before authentication: DRF's CSRF check parses a POST's body, so checked in post() a
        # JSON file over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) was a RequestDataTooBig, and one
        # between 1 and 2.5 MiB was parsed for nothing. The Content-Length says enough.
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        length = content_length(request.META)
        if content_type == "application/json" and length > MAX_DOCUMENT_BYTES:
            raise too_large(length)
        if length > MAX_DOCUMENT_BYTES + MULTIPART_OVERHEAD:
            raise too_large(length)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="presets_import",
        parameters=[OpenApiParameter("name", str, required=False,
                                     description="Store under this name instead")],
        request={"application/json": OpenApiTypes.OBJECT,
                 "multipart/form-data": {"type": "object",
                                         "properties": {"file": {"type": "string",
                                                                 "format": "binary"}},
                                         "required": ["file"]}},
        responses={201: PresetDetailSerializer, **_errors(400, 401, 403, 409, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        # initial() refused a body too big for a preset file already.
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type == "application/json":
            data = request.body
        elif content_type == "multipart/form-data":
            upload = request.data.get("file")
            if upload is None or not hasattr(upload, "read"):
                raise exceptions.ValidationError({"file": ["Attach the preset file as 'file'."]})
            if upload.size > MAX_DOCUMENT_BYTES:
                raise too_large(upload.size)
            data = upload.read(MAX_DOCUMENT_BYTES + 1)
        else:
            raise exceptions.UnsupportedMediaType(
                content_type or "none",
                detail="Send the preset as application/json or as the 'file' of a "
                       "multipart/form-data form.")
        name = request.query_params.get("name")
        preset = PresetService.import_preset(user=request.user, data=data, name=name)
        return Response(PresetDetailSerializer(PresetService.describe(preset, full=True)).data,
                        status=status.HTTP_201_CREATED)
