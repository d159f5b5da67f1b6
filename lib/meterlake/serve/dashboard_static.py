"""The dashboard's static files: its own script and style (package data) and the vendored
charting library (from the npm cache, `meterlake.serve.assets`). Public, like any page's
assets: they hold no data. Only the listed names are served."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

from meterlake.serve import assets

OWN_DIR = files("meterlake.serve") / "dashboard_files"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".txt": "text/plain; charset=utf-8"}
OWN_FILES = ("dashboard.js", "dashboard.css")


def own_file(name: str) -> Response:
    if name not in OWN_FILES:
        raise HTTPException(404, f"no static file {name!r}")
    content = (OWN_DIR / name).read_bytes()
    return Response(content, media_type=_TYPES[Path(name).suffix],
                    headers={"Cache-Control": "no-cache"})


def vendor_file(name: str) -> FileResponse:
    if name not in assets.VENDOR_FILES.values():
        raise HTTPException(404, f"no vendored file {name!r}")
    try:
        folder = assets.require_vendor_files()
    except assets.MissingAssetsError as missing:
        raise HTTPException(503, str(missing)) from None
    # The version is pinned and in the cache's path: a browser may keep it for a day.
    return FileResponse(folder / name, media_type=_TYPES[Path(name).suffix],
                        headers={"Cache-Control": "public, max-age=86400"})


def static_router() -> APIRouter:
    router = APIRouter(prefix="/dashboard/static", include_in_schema=False)
    router.add_api_route("/vendor/{name}", vendor_file, methods=["GET"])
    router.add_api_route("/{name}", own_file, methods=["GET"])
    return router
