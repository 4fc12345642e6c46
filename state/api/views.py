"""Refresh endpoints: start a manual refresh, and follow it (the control page polls the status)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devices.models import Multiviewer
from mvcontrol.errors import NotFound
from state.api.serializers import (
    RefreshScopeSerializer,
    RefreshStartedSerializer,
    RefreshStatusSerializer,
)
from state.runs import Scope
from state.services import StateService


class RefreshView(APIView):
    """Refresh the cached state from the NEXX frame and the Quartz router.

    Runs in the background; at most one refresh runs at a time: while one runs, this joins it
    (whatever its scope) and answers its id. Each user may ask once per REFRESH_RATE (default 1
    per 60 s). The body may narrow the scope; empty, it refreshes everything."""

    @extend_schema(
        operation_id="refresh_start", request=RefreshScopeSerializer,
        responses={202: RefreshStartedSerializer,
                   403: OpenApiResponse(description="The multiviewer is not yours"),
                   404: OpenApiResponse(description="No such multiviewer"),
                   409: OpenApiResponse(description="multiviewer_off: the multiviewer is off "
                                                    "on the frame (a full refresh reads it "
                                                    "again)"),
                   429: OpenApiResponse(description="Too many refreshes; see Retry-After")},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if hasattr(data, "dict"):
            # A form body (or an empty one sent as a form): a missing form checkbox would read as
            # false, an empty body must mean "everything".
            data = data.dict()
        serializer = RefreshScopeSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        wanted = dict(serializer.validated_data)
        if wanted["multiviewer"] is not None:
            # The API names multiviewers by id everywhere; a run records the number operators use.
            mv = Multiviewer.objects.filter(pk=wanted["multiviewer"]).first()
            if mv is None:
                raise NotFound(f"There is no multiviewer with id {wanted['multiviewer']}.",
                               fields={"multiviewer": ["No such multiviewer."]})
            wanted["multiviewer"] = mv.number
        scope = Scope(**wanted)
        ticket = StateService.request_refresh(user=request.user, scope=scope)
        body = {"id": ticket.run.pk, "joined": ticket.joined, "status": ticket.run.status,
                "started_at": ticket.run.started_at}
        return Response(RefreshStartedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class RefreshStatusView(APIView):
    """The latest refresh run (status, times, trigger, who, counts, errors) and, while it runs,
    its progress: parts stored, parameters read of planned, estimated seconds left."""

    @extend_schema(operation_id="refresh_status", responses=RefreshStatusSerializer)
    def get(self, request: Request) -> Response:
        return Response(RefreshStatusSerializer(StateService.refresh_status()).data)
