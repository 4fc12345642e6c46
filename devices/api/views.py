"""The devices API: the NEXX catalog and the layouts the control page builds its choices and
drawings from."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devices.catalog import catalog_document
from devices.layouts import layout_catalog, layouts_document
from mvcontrol.api_schema import error_responses
from mvcontrol.errors import NotFound


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
