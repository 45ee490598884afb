"""The ``talkinghead`` command (and ``python -m talkinghead``): the CLI's commands (:mod:`talkinghead.cli`) plus the
job runners built on them, ``serve`` (:mod:`talkinghead.serve`) and ``batch`` (:mod:`talkinghead.batch`)."""

from __future__ import annotations

import argparse
import os
import sys

from talkinghead import cli, config as cfg


def _add_serve(sub: argparse._SubParsersAction) -> None:
    from talkinghead.serve.service import ServeConfig

    p = sub.add_parser("serve", help="web app and HTTP API over a job queue (animate, dub, fit, motion)",
                       description="Serve the web app (Gradio) at / and the HTTP API at /api (OpenAPI page at /docs). "
                                   "Jobs queue in a SQLite table under --root and run in processes of their own, "
                                   "at most --workers at once; queued jobs survive a restart. Stops cleanly on "
                                   "SIGTERM or Ctrl-C: running jobs are stopped and queued again.")
    cfg.add_arguments(p, ServeConfig)
    cli._common(p)


def _serve(args: argparse.Namespace, bars: cli.Bars) -> dict:
    from talkinghead.serve.server import serve
    from talkinghead.serve.service import ServeConfig

    config = cfg.build(ServeConfig, args.config, args)
    if config.token is None and os.environ.get("TALKINGHEAD_TOKEN"):
        config.token = os.environ["TALKINGHEAD_TOKEN"]
    return serve(config)


def _add_batch(sub: argparse._SubParsersAction) -> None:
    from talkinghead.batch import BatchConfig

    p = sub.add_parser("batch", help="many animate or dub jobs from a CSV or JSONL file, locally or on Ray",
                       description="Run every job of a CSV (one row each) or JSONL file (one object a line): its "
                                   "kind (animate or dub), inputs, output name and any of that command's options. "
                                   "Jobs whose output exists are skipped; a failing job does not stop the others; "
                                   "the exit status is 1 when any failed.")
    p.add_argument("jobs", help="jobs file: .csv or .jsonl; relative paths in it are relative to its folder")
    p.add_argument("-o", "--output", required=True, help="folder the jobs' outputs are written to (created)")
    cfg.add_arguments(p, BatchConfig)
    cli._common(p)


def _batch(args: argparse.Namespace, bars: cli.Bars) -> dict:
    from talkinghead import batch

    summary = batch.run_batch(args.jobs, args.output, cfg.build(batch.BatchConfig, args.config, args),
                              bars("batch", "job"))
    return {**summary, "table": batch.table(summary), "exit_code": 1 if summary["failed"] else 0}


RUNNERS: cli.Extra = {"serve": (_add_serve, _serve), "batch": (_add_batch, _batch)}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``talkinghead`` command."""
    return cli.main(argv, RUNNERS)


if __name__ == "__main__":
    os.environ.setdefault("GLOG_minloglevel", "2")
    sys.exit(main())
