"""The web dashboard: static HTML, CSS and JavaScript modules served by the API process.

Nothing here is built at install time and nothing is fetched from a CDN: the files in
``static/`` are what the browser gets, uPlot included (vendored from npm). The page holds
no data of its own; everything it shows comes from ``/api/v1`` with the user's token in
the ``Authorization`` header, so the page and its files are served without a token.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
APIDOCS_DIR = Path(__file__).parent / "apidocs"
# The page is small and changes with every release: revalidate (ETag) rather than cache
# blindly, so an upgrade never runs yesterday's script against today's API.
_REVALIDATE = {"Cache-Control": "no-cache"}


class _RevalidatedFiles(StaticFiles):
    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers.update(_REVALIDATE)
        return response


def mount(app: FastAPI) -> None:
    """``/`` is the dashboard's page; ``/ui/…`` its scripts, styles and catalogs; ``/docs``
    the API's Swagger UI."""

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers=_REVALIDATE)

    app.mount("/ui", _RevalidatedFiles(directory=STATIC_DIR, check_dir=False), name="ui")

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> Response:
        """Swagger UI for /openapi.json, from the package: works without internet access."""
        return FileResponse(APIDOCS_DIR / "index.html", headers=_REVALIDATE)

    app.mount("/docs", _RevalidatedFiles(directory=APIDOCS_DIR, check_dir=False), name="apidocs")
