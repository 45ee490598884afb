"""The live streaming demo page of ``talkinghead serve``: ``/live`` (plain HTML and JavaScript from ``static/``, no
downloads), and the example portrait it offers at ``/live/example.jpg``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from talkinghead.serve.service import EXAMPLES

STATIC = Path(__file__).resolve().parent / "static"
FILES = {"live.js": "text/javascript", "live.css": "text/css"}


def add_page(app: FastAPI) -> None:
    """The page's routes on ``app`` (open to all: the page asks for the API's token when the server has one)."""

    @app.get("/live", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "live.html", media_type="text/html")

    @app.get("/live/example.jpg", include_in_schema=False)
    def example() -> FileResponse:
        if not (EXAMPLES / "portrait.jpg").is_file():
            raise HTTPException(404, "no example portrait with this installation; upload one")
        return FileResponse(EXAMPLES / "portrait.jpg", media_type="image/jpeg")

    @app.get("/live/{name}", include_in_schema=False)
    def file(name: str) -> FileResponse:
        if name not in FILES:
            raise HTTPException(404, f"no file {name!r}")
        return FileResponse(STATIC / name, media_type=FILES[name])
