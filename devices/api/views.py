"""The devices API: the catalog and layouts the control page builds its choices and drawings
from, and the control endpoints (sources, multiviewers, windows, routing) of issue 6."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import session_reads
from accounts.permissions import ADMIN_ONLY
from accounts.services import AccessService
from devices.api.serializers import (
    LayoutChangeSerializer,
    MultiviewerChangeSerializer,
    MultiviewerSerializer,
    MultiviewerSummarySerializer,
    RouteSerializer,
    RoutingSwitchSerializer,
    SourceSerializer,
    WindowChangeSerializer,
)
from devices.control.changes import MultiviewerChange, UmdLayerChange, WindowChange
from devices.control.documents import (
    multiviewers_list,
    read_multiviewer_json,
    read_stamp_in_session,
    route_row,
    routing_list,
    sources_list,
    written_answer,
    written_multiviewer_json,
)
from devices.control.reads import (
    ChangeReads,
    read_for_change,
    read_for_change_in_session,
    reads_from_row,
)
from devices.control.services import ControlService, require_multiviewer
from devices.models import Multiviewer, Source
from devices.nexx.catalog import catalog_document
from devices.nexx.layouts import layout_catalog, layouts_document
from mvcontrol.api_errors import error_body
from mvcontrol.api_schema import error_responses
from mvcontrol.errors import InvalidInput, NotFound


class CatalogView(APIView):
    """The NEXX parameter catalog: every parameter with scope, access, type, allowed values
    (ranges, enum choices with the labels in force) and its device ↔ operator conversion."""

    @extend_schema(operation_id="catalog",
                   responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(catalog_document())


class LayoutsView(APIView):
    """Layouts 1..43 with their windows (ids 1..n, rectangles x, y, w, h normalised 0..1)."""

    @extend_schema(operation_id="layouts_list",
                   responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(layouts_document())


class LayoutView(APIView):
    """One layout with its windows."""

    @extend_schema(operation_id="layout",
                   responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403, 404)})
    def get(self, request: Request, number: int) -> Response:
        layout = layout_catalog().get(number)
        if layout is None:
            raise NotFound(f"Layout {number} does not exist: layouts are 1 to 43.")
        return Response(layout.as_dict())


# --- control: sources, multiviewers, windows, routing -------------------------------------------
# Thin: the serializers check the shape, ControlService the rest (catalog, layout, grants, size,
# rate, lease, devices, state); reads come from the cached state (devices/control/documents.py).

_READ_ERRORS = (401, 403)
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 502, 503, 504)


def _valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _granted_multiviewer(request: Request, pk: int, mv: Multiviewer | None) -> Multiviewer:
    """`mv`, read with its grant (once for the view and ControlService): 404, 403 not_granted."""
    if mv is None:
        raise NotFound(f"Multiviewer #{pk} does not exist.")
    require_multiviewer(request.user, mv)
    return mv


def _known_source(pk: int, source: Source | None, field_name: str) -> Source:
    # Read with its grant; ControlService checks the grant.
    if source is None:
        raise InvalidInput(f"Source #{pk} does not exist.",
                           fields={field_name: [f"Unknown source id {pk}."]})
    return source


def _source(request: Request, pk: int, field_name: str) -> Source:
    return _known_source(pk, AccessService.get_with_grant(request.user, Source, pk), field_name)


class _Body:
    """A change's body, read once: its serializer, or the error reading it raised (answered after
    the multiviewer's checks), and the source it names in `source_field`, if valid."""

    def __init__(self, request: Request, serializer_class, source_field: str | None) -> None:
        self.source_pk = None
        try:
            self.serializer = serializer_class(data=request.data)
        except APIException as exc:  # an unreadable body
            self.serializer, self.unreadable = None, exc
            return
        self.unreadable = None
        if source_field and self.serializer.is_valid():
            self.source_pk = self.serializer.validated_data.get(source_field)

    def valid(self) -> dict:
        if self.unreadable is not None:
            raise self.unreadable
        self.serializer.is_valid(raise_exception=True)
        return self.serializer.validated_data


_CHANGES = ("POST", "PATCH")  # the methods of the change views' handlers


class _ReadsWithSession:
    """A view whose first statement also reads the request's session and its user
    (accounts/session_reads.py): one round trip to PostgreSQL before the view's work, none to
    Redis. Run where DRF authenticates, before CSRF and the permission checks, which then run as
    for any view; what was read is used only for the user the request authenticated as."""

    first_read = None  # (user, what was read for that user)

    def perform_authentication(self, request: Request) -> None:
        key = session_reads.session_key(request)
        if key is not None:
            user, read = self.read_first(request, key)
            if user is not None:
                self.first_read = (user, read)
        super().perform_authentication(request)

    def read_first(self, request: Request, key: str) -> tuple:
        """(the user session_reads.authenticate found or None, what the view read for them)."""
        raise NotImplementedError

    def read_for(self, user):
        """What read_first read, when it was read for `user`; else None (read it again)."""
        if self.first_read is not None and self.first_read[0] is user:
            return self.first_read[1]
        return None


class _Change(_ReadsWithSession):
    """A change to multiviewer `pk`: the multiviewer (404 and 403 answered first, whatever the
    body), the valid body (400, 415), and what the change reads before it is planned, with the
    source the body names in `source_field`, in one round trip (devices/control/reads.py), the
    session and its user included when there is a session."""

    serializer_class = None
    source_field: str | None = None
    _body: _Body | None = None

    def body(self, request: Request) -> _Body:
        if self._body is None:
            self._body = _Body(request, self.serializer_class, self.source_field)
        return self._body

    def read_first(self, request: Request, key: str) -> tuple:
        if request.method not in _CHANGES:
            return None, None
        session, row = read_for_change_in_session(key, self.kwargs["pk"],
                                                  self.body(request).source_pk)
        user = session_reads.authenticate(request, session)
        return user, (None if user is None else reads_from_row(user, row))

    def change(self, request: Request, pk: int) -> tuple[Multiviewer, dict, ChangeReads]:
        body = self.body(request)
        reads = self.read_for(request.user)
        if reads is None:
            reads = read_for_change(request.user, pk, body.source_pk)
        mv = _granted_multiviewer(request, pk, reads.multiviewer)
        return mv, body.valid(), reads


def _applied(request: Request, mv: Multiviewer, change: MultiviewerChange,
             reads: ChangeReads) -> Response | HttpResponse:
    """Apply and answer the multiviewer as it now is; a change that failed half way answers the
    device's error status with what was and was not applied."""
    # The answer is read in the round trip of the change's last record.
    result = ControlService.apply(user=request.user, multiviewer=mv, change=change, reads=reads,
                                  answer=written_answer(mv.pk, request.user))
    if result.error is not None:
        error = result.error
        detail = f"{error.detail}. The change was partly applied — {result.summary()}"
        return Response(error_body(error.code, detail, {}, device=error.device,
                                   result=result.as_dict()), status=error.http_status)
    # The document is built in MultiviewerSerializer's exact shape (checked by
    # tests/devices/api/test_read_document.py); a second pass through the serializer's fields
    # cost as much as building it. Rendered as GET /api/multiviewers/{id} renders it, and kept:
    # the control page's next read of it is answered from there.
    return HttpResponse(written_multiviewer_json(mv.pk, request.user, result.answer_row),
                        content_type="application/json")


class SourcesView(APIView):
    """Sources (router inputs) the user may route: granted ones; every source for admins."""

    @extend_schema(operation_id="sources_list",
                   responses={200: SourceSerializer(many=True), **error_responses(*_READ_ERRORS)})
    def get(self, request: Request) -> Response:
        return Response(SourceSerializer(sources_list(request.user), many=True).data)


class MultiviewersView(APIView):
    """Multiviewers the user may use, with their layout and when the device last confirmed it."""

    @extend_schema(operation_id="multiviewers_list",
                   responses={200: MultiviewerSummarySerializer(many=True),
                              **error_responses(*_READ_ERRORS)})
    def get(self, request: Request) -> Response:
        rows = multiviewers_list(request.user)
        return Response(MultiviewerSummarySerializer(rows, many=True).data)


class MultiviewerView(_Change, APIView):
    """One multiviewer as the control page shows it: parameters, layout geometry, and each
    window of the current layout with its router output, routed source, PCM bars and UMD
    layers. PATCH changes any of font, outer_border, inner_border, output_format."""

    serializer_class = MultiviewerChangeSerializer

    def read_first(self, request: Request, key: str) -> tuple:
        if request.method not in ("GET", "HEAD"):
            return super().read_first(request, key)
        session, stamp = read_stamp_in_session(key, self.kwargs["pk"])
        return session_reads.authenticate(request, session), stamp

    @extend_schema(operation_id="multiviewer_read",
                   responses={200: MultiviewerSerializer,
                              **error_responses(*_READ_ERRORS, 404)})
    def get(self, request: Request, pk: int) -> HttpResponse:
        # The multiviewer comes with the document's stamp, and the answer comes rendered (the
        # control page's most frequent read; bench/api_load.py).
        user = request.user
        return HttpResponse(read_multiviewer_json(pk, user, self.read_for(user)),
                            content_type="application/json")

    @extend_schema(operation_id="multiviewer_update", request=MultiviewerChangeSerializer,
                   responses={200: MultiviewerSerializer, **error_responses(*_WRITE_ERRORS)})
    def patch(self, request: Request, pk: int) -> Response:
        mv, data, reads = self.change(request, pk)
        return _applied(request, mv, MultiviewerChange(**data), reads)


class MultiviewerLayoutView(_Change, APIView):
    """Change the multiviewer's layout (1..43)."""

    serializer_class = LayoutChangeSerializer

    @extend_schema(operation_id="multiviewer_layout", request=LayoutChangeSerializer,
                   responses={200: MultiviewerSerializer, **error_responses(*_WRITE_ERRORS)})
    def post(self, request: Request, pk: int) -> Response:
        mv, data, reads = self.change(request, pk)
        return _applied(request, mv, MultiviewerChange(layout=data["layout"]), reads)


class WindowView(_Change, APIView):
    """Change one window of the current layout: route a source to it (Quartz), its PCM bars and
    UMD layers (NEXX, batched)."""

    serializer_class = WindowChangeSerializer
    source_field = "source"

    @extend_schema(operation_id="multiviewer_window", request=WindowChangeSerializer,
                   responses={200: MultiviewerSerializer, **error_responses(*_WRITE_ERRORS)})
    def post(self, request: Request, pk: int, window: int) -> Response:
        mv, data, reads = self.change(request, pk)
        source = _known_source(data["source"], reads.source, "source") if "source" in data else None
        umd = [UmdLayerChange(layer["layer"], {k: v for k, v in layer.items() if k != "layer"})
               for layer in data.get("umd", [])]
        change = MultiviewerChange(windows=[WindowChange(window, source=source,
                                                         pcm_bars=data.get("pcm_bars"),
                                                         umd=umd)])
        return _applied(request, mv, change, reads)


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
                   responses={200: RouteSerializer, **error_responses(*_WRITE_ERRORS)})
    def post(self, request: Request) -> Response:
        data = _valid(RoutingSwitchSerializer, request.data)
        source = _source(request, data["source"], "source")
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
