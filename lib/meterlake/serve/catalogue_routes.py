"""The data catalogue over HTTP: `GET /v1/catalog` (JSON, a key with the `read` scope, like the
read API) and `GET /catalog`, which sends a browser to the page in the dashboard
(`/dashboard/catalog`, behind the dashboard's sign-in: its session cookie is scoped to
/dashboard). Both are built on request from the same `CatalogueBuilder`."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from meterlake.receive.http_auth import READ, require_scope
from meterlake.receive.http_docs import UNAUTHORIZED, error
from meterlake.receive.http_request import check_query_parameters
from meterlake.serve.catalogue import Catalogue, CatalogueBuilder, load_descriptions
from meterlake.serve.catalogue_pages import catalogue_json

PAGE = "/dashboard/catalog"
_builder_lock = threading.Lock()


def build_catalogue(request: Request) -> Catalogue:
    """The catalogue of the app's lake, now; the builder is made at the first request (it
    loads the table descriptions once)."""
    state = request.app.state
    with _builder_lock:
        builder: CatalogueBuilder | None = getattr(state, "catalogue", None)
        if builder is None:
            builder = CatalogueBuilder(load_descriptions(), state.tables,
                                       state.http.landing_root)
            state.catalogue = builder
    return builder.build()


def catalogue(request: Request) -> dict[str, Any]:
    """Every table of the lake: grain, keys, columns with descriptions and units, owner,
    freshness (latest version, its commit, lag behind its inputs), current quality and
    lineage. A table not written yet has status `not written yet` and no freshness."""
    return catalogue_json(build_catalogue(request))


def to_page() -> RedirectResponse:
    return RedirectResponse(PAGE, status_code=303)


def catalogue_router() -> APIRouter:
    router = APIRouter()
    router.add_api_route("/catalog", to_page, methods=["GET"], include_in_schema=False)
    router.add_api_route(
        "/v1/catalog", catalogue, methods=["GET"], tags=["read"], summary="The data catalogue",
        dependencies=[Depends(require_scope(READ)), Depends(check_query_parameters)],
        responses={401: UNAUTHORIZED,
                   403: error("the key lacks the read scope", "this API key lacks the 'read' "
                              "scope"),
                   422: error("a query parameter was given",
                              "unknown query parameters ['x']; this route takes: none")})
    return router
