"""``talkinghead serve``: a web app (Gradio) and an HTTP API (FastAPI) over one job queue stored in SQLite, each job
one CLI command run in a process of its own (:mod:`talkinghead.serve.kinds`)."""
