"""Catalog endpoints: what the control page needs to build its choices and draw layouts."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devices.nexx.catalog import catalog_document
from devices.nexx.layouts import layout_catalog, layouts_document
from mvcontrol.errors import NotFound


class CatalogView(APIView):
    """The NEXX parameter catalog: every parameter with scope, access, type, allowed values
    (ranges, enum choices with the labels in force) and its device ↔ operator conversion."""

    @extend_schema(operation_id="catalog", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(catalog_document())


class LayoutsView(APIView):
    """Layouts 1..43 with their windows (ids 1..n, rectangles x, y, w, h normalised 0..1)."""

    @extend_schema(operation_id="layouts_list", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(layouts_document())


class LayoutView(APIView):
    """One layout with its windows."""

    @extend_schema(operation_id="layout", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, number: int) -> Response:
        layout = layout_catalog().get(number)
        if layout is None:
            raise NotFound(f"Layout {number} does not exist: layouts are 1 to 43.")
        return Response(layout.as_dict())
