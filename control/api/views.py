"""The control API: sources (and the user's favourites), multiviewers, windows, undo, routing,
edit leases.

Thin: the serializers check the shape, ControlService the rest (catalog, layout, grants, size,
rate, lease, devices, state); reads come from the cached state (control/documents.py).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ADMIN_ONLY
from accounts.services import AccessService
from control.api.serializers import (
    LayoutChangeSerializer,
    MultiviewerChangeSerializer,
    MultiviewerSerializer,
    MultiviewerSummarySerializer,
    RouteSerializer,
    RoutingSwitchSerializer,
    SourceListSerializer,
    WindowChangeSerializer,
)
from control.changes import MultiviewerChange, UmdLayerChange, WindowChange
from control.documents import (
    multiviewer_view,
    multiviewer_with_state,
    multiviewers_list,
    route_row,
    routing_list,
    sources_list,
)
from control.services import ApplyResult, ControlService, require_multiviewer
from devices.models import Multiviewer, Source
from mvcontrol.api_errors import error_body
from mvcontrol.api_schema import ErrorSerializer, error_responses
from mvcontrol.errors import InvalidInput, NotFound

_READ_ERRORS = (401, 403)
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 502, 503, 504)
_OFF = ("the multiviewer is off on the frame, for a user (multiviewer_off: it cannot be shown or "
        "changed until it is switched on there and the state is refreshed)")


def _conflicts(*also: str) -> dict[int, OpenApiResponse]:
    """The 409 of a multiviewer endpoint, with what it can mean there."""
    return {409: OpenApiResponse(ErrorSerializer, description="Conflict: " + "; ".join(
        [_OFF, *also]) + ".")}


_WRITE_CONFLICTS = _conflicts(
    "another user holds the edit lease (edit_lease_held)",
    "the layout is not known yet (layout_unknown)",
    "the router output is locked (output_locked)")


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _granted_multiviewer(request: Request, pk: int) -> Multiviewer:
    """Multiviewer `pk` (with its state and lease) for the request's user: 404, then 403
    not_granted or 409 multiviewer_off (granted, but off on the frame), before the body is
    looked at."""
    mv = multiviewer_with_state(pk, among=AccessService.visible_multiviewers(request.user))
    if mv is None:
        # Not one the user may use: whether it exists, and why not (granted meanwhile: read
        # it again).
        mv = Multiviewer.objects.filter(pk=pk).first()
        if mv is not None:
            require_multiviewer(request.user, mv)
            mv = multiviewer_with_state(pk)
    if mv is None:
        raise NotFound(f"Multiviewer #{pk} does not exist.")
    return mv


def _source(pk: int, field_name: str) -> Source:
    # ControlService checks the grant.
    source = Source.objects.filter(pk=pk).first()
    if source is None:
        raise InvalidInput(f"Source #{pk} does not exist.",
                           fields={field_name: [f"Unknown source id {pk}."]})
    return source


def _multiviewer_answer(request: Request, mv: Multiviewer) -> Response:
    return Response(MultiviewerSerializer(multiviewer_view(mv, request.user)).data)


def _applied(request: Request, mv: Multiviewer, change: MultiviewerChange) -> Response:
    """Apply and answer the multiviewer as it now is (see _answer)."""
    return _answer(request, mv,
                   ControlService.apply(user=request.user, multiviewer=mv, change=change))


def _answer(request: Request, mv: Multiviewer, result: ApplyResult) -> Response:
    """The multiviewer as the change left it; a change that failed half way answers the
    device's error status with what was and was not applied."""
    if result.error is not None:
        error = result.error
        detail = f"{error.detail}. The change was partly applied — {result.summary()}"
        return Response(error_body(error.code, detail, {}, device=error.device,
                                   result=result.as_dict()), status=error.http_status)
    # Read again: the answer shows the multiviewer as the change left it.
    changed = multiviewer_with_state(mv.pk)
    if changed is None:
        raise NotFound(f"Multiviewer #{mv.pk} does not exist.")
    return _multiviewer_answer(request, changed)


class SourcesView(APIView):
    """Sources (router inputs) the user may route: granted ones; every source for admins. Each
    with its category and whether it is one of the user's favourites."""

    @extend_schema(operation_id="sources_list",
                   responses={200: SourceListSerializer(many=True),
                              **error_responses(*_READ_ERRORS)})
    def get(self, request: Request) -> Response:
        return Response(SourceListSerializer(sources_list(request.user), many=True).data)


class SourceFavouriteView(APIView):
    """Mark a source as one of your favourites (PUT) or not (DELETE); both are idempotent. A
    source you may not see answers 404. Kept per user, server-side; no device is touched."""

    @extend_schema(operation_id="source_favourite_add", request=None,
                   responses={204: None, **error_responses(401, 403, 404)})
    def put(self, request: Request, pk: int) -> Response:
        AccessService.set_favourite(user=request.user, source_id=pk, favourite=True)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(operation_id="source_favourite_remove", request=None,
                   responses={204: None, **error_responses(401, 403, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        AccessService.set_favourite(user=request.user, source_id=pk, favourite=False)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MultiviewersView(APIView):
    """Multiviewers the user may use, with their layout and when the device last confirmed it;
    for a user also the granted ones switched off on the frame, with "enabled": false (reading
    or changing one answers 409 multiviewer_off)."""

    @extend_schema(operation_id="multiviewers_list",
                   responses={200: MultiviewerSummarySerializer(many=True),
                              **error_responses(*_READ_ERRORS)})
    def get(self, request: Request) -> Response:
        rows = multiviewers_list(request.user)
        return Response(MultiviewerSummarySerializer(rows, many=True).data)


class MultiviewerView(APIView):
    """One multiviewer as the control page shows it: parameters, layout geometry, and each
    window of the current layout with its router output, routed source, PCM bars and UMD
    layers. PATCH changes any of font, outer_border, inner_border, output_format."""

    @extend_schema(operation_id="multiviewer_read",
                   responses={200: MultiviewerSerializer,
                              **error_responses(*_READ_ERRORS, 404), **_conflicts()})
    def get(self, request: Request, pk: int) -> Response:
        return _multiviewer_answer(request, _granted_multiviewer(request, pk))

    @extend_schema(operation_id="multiviewer_update", request=MultiviewerChangeSerializer,
                   responses={200: MultiviewerSerializer, **error_responses(*_WRITE_ERRORS),
                              **_WRITE_CONFLICTS})
    def patch(self, request: Request, pk: int) -> Response:
        mv = _granted_multiviewer(request, pk)
        data = _valid(MultiviewerChangeSerializer, request.data)
        return _applied(request, mv, MultiviewerChange(**data))


class MultiviewerLayoutView(APIView):
    """Change the multiviewer's layout (1..43)."""

    @extend_schema(operation_id="multiviewer_layout", request=LayoutChangeSerializer,
                   responses={200: MultiviewerSerializer, **error_responses(*_WRITE_ERRORS),
                              **_WRITE_CONFLICTS})
    def post(self, request: Request, pk: int) -> Response:
        mv = _granted_multiviewer(request, pk)
        data = _valid(LayoutChangeSerializer, request.data)
        return _applied(request, mv, MultiviewerChange(layout=data["layout"]))


class WindowView(APIView):
    """Change one window of the current layout: route a source to it (Quartz), its PCM bars and
    UMD layers (NEXX, batched)."""

    @extend_schema(operation_id="multiviewer_window", request=WindowChangeSerializer,
                   responses={200: MultiviewerSerializer, **error_responses(*_WRITE_ERRORS),
                              **_WRITE_CONFLICTS})
    def post(self, request: Request, pk: int, window: int) -> Response:
        mv = _granted_multiviewer(request, pk)
        data = _valid(WindowChangeSerializer, request.data)
        source = _source(data["source"], "source") if "source" in data else None
        umd = [UmdLayerChange(layer["layer"], {k: v for k, v in layer.items() if k != "layer"})
               for layer in data.get("umd", [])]
        change = MultiviewerChange(windows=[WindowChange(window, source=source,
                                                         pcm_bars=data.get("pcm_bars"),
                                                         umd=umd)])
        return _applied(request, mv, change)


class MultiviewerUndoView(APIView):
    """Undo the last change made to the multiviewer (one step, shown as `undo` in the
    multiviewer): through the same command flow as any write (grants, rate, edit lease,
    devices, recording). The step is consumed; a partial undo keeps what it could not apply."""

    @extend_schema(
        operation_id="multiviewer_undo", request=None,
        responses={200: MultiviewerSerializer,
                   **error_responses(*_WRITE_ERRORS),
                   **_conflicts("there is nothing to undo (nothing_to_undo)",
                                "another user holds the edit lease (edit_lease_held)",
                                "the layout is not known yet (layout_unknown)",
                                "the router output is locked (output_locked)")})
    def post(self, request: Request, pk: int) -> Response:
        mv = _granted_multiviewer(request, pk)
        return _answer(request, mv, ControlService.undo(user=request.user, multiviewer=mv))


class LeaseView(APIView):
    """Break the edit lease on a multiviewer (admins): its holder's next write takes it again
    only if nobody else took it meanwhile."""

    permission_classes = ADMIN_ONLY

    @extend_schema(operation_id="multiviewer_lease_break", request=None,
                   responses={204: None, **error_responses(401, 403, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        mv = Multiviewer.objects.filter(pk=pk).first()
        if mv is None:
            raise NotFound(f"Multiviewer #{pk} does not exist.")
        ControlService.break_lease(admin=request.user, multiviewer=mv)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoutingView(APIView):
    """The cached route of every router output the user can see: the window outputs of the
    multiviewers granted to them (admins: also every other output with a known route)."""

    @extend_schema(operation_id="routing_list",
                   responses={200: RouteSerializer(many=True), **error_responses(*_READ_ERRORS)})
    def get(self, request: Request) -> Response:
        return Response(RouteSerializer(routing_list(request.user), many=True).data)


class RoutingSwitchView(APIView):
    """Route a source to a router output, given as `output` or as `multiviewer` + `window`."""

    @extend_schema(operation_id="routing_switch", request=RoutingSwitchSerializer,
                   responses={200: RouteSerializer, **error_responses(*_WRITE_ERRORS),
                              **_WRITE_CONFLICTS})
    def post(self, request: Request) -> Response:
        data = _valid(RoutingSwitchSerializer, request.data)
        source = _source(data["source"], "source")
        if "output" in data:
            output = data["output"]
            ControlService.switch(user=request.user, output=output, source=source)
        else:
            mv = Multiviewer.objects.filter(pk=data["multiviewer"]).first()
            if mv is None:
                raise InvalidInput(f"Multiviewer #{data['multiviewer']} does not exist.",
                                   fields={"multiviewer": ["Unknown multiviewer id."]})
            require_multiviewer(request.user, mv)
            output = mv.output_for_window(data["window"])
            ControlService.switch_window(user=request.user, multiviewer=mv,
                                         window=data["window"], source=source)
        return Response(RouteSerializer(route_row(request.user, output)).data)
