"""The HTTP service: the ingest routes of `meterlake.receive` and the read API, one app.

    uvicorn --factory meterlake.serve.app:create_app   (or `meterlake serve`)
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline

from meterlake import __version__
from meterlake.receive import http_docs
from meterlake.receive.http_ingest import HttpSettings, http_settings_from_env, ingest_router
from meterlake.receive.http_request import validation_message
from meterlake.serve import sessions
from meterlake.serve.api import read_router
from meterlake.serve.catalogue_routes import catalogue_router
from meterlake.serve.dashboard import dashboard_router
from meterlake.serve.delta_reads import LatestTables


def create_app(settings: HttpSettings | None = None) -> FastAPI:
    """The app: ingest and read routes, the dashboard, the API keys and the lake of `settings`
    (by default from the environment)."""
    settings = settings or http_settings_from_env()
    # FastAPIOffline serves Swagger UI and ReDoc from files in its package instead of a CDN:
    # /docs must render on a network that reaches nothing outside (and for this machine).
    app = FastAPIOffline(title="meterlake", version=__version__,
                         description=http_docs.API_DESCRIPTION)
    app.state.http = settings
    app.state.api_keys = settings.api_keys
    app.state.tables = LatestTables(settings.lake_root, settings.object_store)
    app.state.session_secret = sessions.session_secret()
    app.add_exception_handler(RequestValidationError, validation_message)
    app.include_router(ingest_router())
    app.include_router(read_router())
    app.include_router(dashboard_router())
    app.include_router(catalogue_router())
    return app
