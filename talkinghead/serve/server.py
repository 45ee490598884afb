"""The ``talkinghead serve`` process: the HTTP API with the web app mounted at ``/``, run by uvicorn (which stops on
SIGTERM or Ctrl-C after the running jobs are stopped and queued again)."""

from __future__ import annotations

import hmac
import os

from fastapi import FastAPI

from talkinghead.serve.api import create_app
from talkinghead.serve.service import EXAMPLES, ServeConfig, Service
from talkinghead.serve.webapp import WebApp


def create_server(config: ServeConfig) -> FastAPI:
    """The API and the web app over one service; with a token, the web app asks for it as its password."""
    import gradio as gr

    service = Service(config)
    app = create_app(service)
    auth = (lambda user, password: hmac.compare_digest(password.encode(), config.token.encode())) if config.token \
        else None
    return gr.mount_gradio_app(app, WebApp(service).blocks(), path="/", auth=auth,
                               allowed_paths=[str(service.store.root / "jobs"), str(EXAMPLES)])


def serve(config: ServeConfig) -> dict:
    """Serve until stopped; returns a summary of the jobs handled."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn

    print(f"talkinghead serve: http://{config.host}:{config.port}/ (API docs at /docs, live demo at /live)", flush=True)
    uvicorn.run(create_server(config), host=config.host, port=config.port, log_level="warning")
    return {"output": config.root, "stopped": True}
