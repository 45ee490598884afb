"""The ``talkinghead`` command: parses options and calls the pipeline; errors become one line and exit 1."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Callable, Iterable

from talkinghead import __version__, config as cfg
from talkinghead.errors import InputError, Terminated, stop_on_sigterm
from talkinghead.eval.evaluate import EvalConfig
from talkinghead.motion.motion import Motion
from talkinghead.progress import Progress
from talkinghead.pipeline import (AnimateConfig, DubConfig, MotionConfig, StreamConfig, TrackConfig, animate, dub,
                                  motion_from_audio, track_motion)
from talkinghead.pipeline.output import check_output


Bars = Callable[..., "Progress | None"]
"""(stage label, unit="frame") -> that stage's progress hook, or None: how a command reports its progress."""


def _progress(quiet: bool, label: str, unit: str = "frame"):
    """A tqdm progress bar on stderr, or nothing with ``--quiet``.

    The bar appears with the first frame, so that an error found before rendering starts prints alone.
    """
    if quiet:
        return None
    from tqdm import tqdm

    def wrap(frames: Iterable, total: int) -> Iterable:
        terminal = _terminal()  # taken now: FaceMesh silences descriptor 2 while it tracks

        def counted() -> Iterable:
            with terminal as out, tqdm(total=total, desc=label, unit=unit, file=out, leave=False,
                                       dynamic_ncols=True) as bar:
                for frame in frames:
                    yield frame
                    if isinstance(frame, dict) and frame:  # a training tick: its running figures
                        bar.set_postfix(frame, refresh=False)
                    bar.update()

        return counted()

    return wrap


def _terminal() -> contextlib.AbstractContextManager:
    """A copy of standard error's descriptor, or ``sys.stderr`` itself when it has none (captured output)."""
    try:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w")
    except (OSError, ValueError, io.UnsupportedOperation):
        return contextlib.nullcontext(sys.stderr)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML or JSON file of options (command-line options win)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON summary on stdout")


def _motion_files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="motion file: .json or .csv")
    parser.add_argument("--cues", metavar="FILE", help="also write 2D mouth-shape cues A-H/X (.json or .tsv)")
    parser.add_argument("--arkit", metavar="FILE", help="also write ARKit-style blendshape weights (.json or .csv)")


TRAINER_HELP = {
    "syncnet": "SyncNet for LSE-C / LSE-D (LatentSync's recipe)",
    "lips": "learned lips, GoHD stage 1 (mel window -> lip channels)",
    "expression": "learned blinks and brows, GoHD stage 2 (recurrent, sampled)",
    "syncer": "MS-Sync multi-scale audio-motion syncer (contrastive)",
    "pose": "head pose diffusion model (GoHD / DAE-Talker conformer denoiser)",
    "pose-vae": "head pose and blink transformer VAE (ICASSP 2023)",
}


def trainers() -> dict[str, tuple[type, Callable[..., dict]]]:
    """Trainer name -> (its config class, its training function); imported when asked for, as they import torch."""
    from talkinghead.train.expression import ExpressionTrainConfig, train_expression
    from talkinghead.train.lips import LipsTrainConfig, train_lips
    from talkinghead.train.pose import PoseTrainConfig, PoseVAETrainConfig, train_pose, train_pose_vae
    from talkinghead.train.syncer import SyncerTrainConfig, train_syncer
    from talkinghead.train.syncnet import SyncNetTrainConfig, train_syncnet

    return {"syncnet": (SyncNetTrainConfig, train_syncnet), "lips": (LipsTrainConfig, train_lips),
            "expression": (ExpressionTrainConfig, train_expression), "syncer": (SyncerTrainConfig, train_syncer),
            "pose": (PoseTrainConfig, train_pose), "pose-vae": (PoseVAETrainConfig, train_pose_vae)}


def fit_config() -> type:
    """``talkinghead fit``'s options (imports torch)."""
    from talkinghead.train.fit import FitConfig

    return FitConfig


Extra = dict[str, tuple[Callable[[argparse._SubParsersAction], None], Callable[[argparse.Namespace, Bars], dict]]]
"""Commands defined above this module (command -> (adds its subparser, runs it)): the job runners built on these
commands, ``serve`` and ``batch``, which ``talkinghead.__main__`` adds."""


def build_parser(argv: list[str] | None = None, extra: Extra | None = None) -> argparse.ArgumentParser:
    """The parser; a trainer's options are added only when ``argv`` names it (they need torch to import)."""
    parser = argparse.ArgumentParser(prog="talkinghead", description="Audio-driven talking-face video.")
    parser.add_argument("--version", action="version", version=f"talkinghead {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("animate", help="portrait + speech -> talking video (mp4)",
                       description="Animate a portrait with speech: lip sync, blinks, brows, head motion and gaze.")
    p.add_argument("--image", help="portrait (jpg, png, webp, bmp); with --avatar, default: the avatar's still")
    p.add_argument("--audio", required=True, help="speech (wav, mp3, m4a, flac, ogg, or a video's audio track)")
    p.add_argument("-o", "--output", required=True, help="output .mp4")
    p.add_argument("--motion", metavar="FILE", help="render this motion file (JSON/CSV) instead of computing one")
    cfg.add_arguments(p, AnimateConfig)
    _common(p)

    p = sub.add_parser("dub", help="video + new speech -> the same video, mouth re-synced (mp4)",
                       description="Re-sync the mouth of a video to new speech; head motion, blinks and expressions "
                                   "stay the source's, and everything outside the mouth region is left as it was. "
                                   "Shorter speech leaves the rest with a closed mouth (or --trim); longer speech "
                                   "plays the video forward and backward (or --loop).")
    p.add_argument("--video", required=True, help="video of the person (mp4, mov, mkv, webm, mpg)")
    p.add_argument("--audio", required=True, help="the new speech (wav, mp3, m4a, flac, ogg, or a video's audio track)")
    p.add_argument("-o", "--output", required=True, help="output .mp4")
    p.add_argument("--motion", metavar="FILE", help="take the lips from this motion file (JSON/CSV, e.g. from "
                   "`talkinghead track`) instead of computing them from the speech")
    cfg.add_arguments(p, DubConfig)
    _common(p)

    p = sub.add_parser("stream", help="live: speech in (microphone or a file played in real time), talking face out",
                       description="Animate a portrait live: the face follows the speech as it is heard, a look-ahead "
                                   "of about 0.1 s behind. The sound comes from the microphone, or from --audio played "
                                   "at real-time speed; the frames go to a --window, a --virtual-camera and/or a "
                                   "--record(ing) of the frames as they were produced, with the speech. --json prints "
                                   "the frames produced, late and dropped and the latency (p50, p95). Ctrl-C stops.")
    p.add_argument("--image", help="portrait (jpg, png, webp, bmp); with --avatar, default: the avatar's still")
    p.add_argument("--audio", help="speech file played at real-time speed (default: the microphone)")
    p.add_argument("--chunk-ms", type=float, default=20.0, help="sound arrives in chunks of this many milliseconds")
    p.add_argument("--record", metavar="MP4", help="write the frames as they were produced, with the speech")
    p.add_argument("--window", action="store_true", help="show the frames in a window")
    p.add_argument("--virtual-camera", action="store_true", help="send the frames to a virtual camera (pyvirtualcam)")
    cfg.add_arguments(p, StreamConfig)
    _common(p)

    p = sub.add_parser("motion", help="speech -> motion file (JSON or CSV), mouth cues, ARKit blendshapes",
                       description="Compute the per-frame face motion for speech without rendering.")
    p.add_argument("--audio", required=True, help="speech file")
    _motion_files(p)
    cfg.add_arguments(p, MotionConfig)
    _common(p)

    p = sub.add_parser("track", help="real video -> motion file (JSON or CSV), mouth cues, ARKit blendshapes",
                       description="Measure every motion channel of a face in a real video (FaceMesh landmarks, "
                                   "scaled to the speaker's own range, the clip's median pose as rest), at the "
                                   "video's fps; frames where the face is lost are interpolated.")
    p.add_argument("video", help="video of the person (mp4, mov, mkv, webm, mpg)")
    _motion_files(p)
    cfg.add_arguments(p, TrackConfig)
    _common(p)

    p = sub.add_parser("eval", help="score generated videos: lip sync, motion, identity, image quality",
                       description="Score one generated video, or a folder of them matched to companions by name.")
    p.add_argument("generated", help="generated video, or a folder of them")
    p.add_argument("--reference", metavar="VIDEO", help="real video (or folder) to compare with")
    p.add_argument("--audio", metavar="SPEECH", help="the speech (or folder); default: the generated video's track")
    p.add_argument("--source", metavar="PORTRAIT", help="source image (or folder) for the identity distance")
    p.add_argument("--save", metavar="DIR", help="write results.json and per-clip series for `talkinghead report`")
    cfg.add_arguments(p, EvalConfig)
    _common(p)

    p = sub.add_parser("report", help="evaluation results -> HTML or Markdown report with pictures",
                       description="Turn a folder written by `talkinghead eval --save` into a report people read.")
    p.add_argument("results", help="folder written by `talkinghead eval --save`")
    p.add_argument("-o", "--output", required=True, help="report file: .html (self-contained) or .md")
    p.add_argument("--title", default="talkinghead evaluation", help="report title")
    _common(p)

    p = sub.add_parser("fit", help="a person's footage -> an avatar whose mouth looks like theirs (.avatar)",
                       description="Fit a renderer to one person: track their footage (one or more clips), pair "
                                   "each frame's mouth with what the warp renderer draws there, train a decoder "
                                   "(HyperLips' HRDecoder) on the CPU for a time budget, and write one avatar file "
                                   "for animate and dub --avatar. The last part of each clip is held back "
                                   "and scored. A fit stopped with Ctrl-C goes on with --resume.")
    p.add_argument("videos", nargs="+", help="footage of the person (mp4, mov, mkv, webm); a minute or more is best")
    p.add_argument("-o", "--output", required=True, help="avatar file to write (NAME.avatar)")
    if argv is not None and "fit" in argv:  # its options import torch: only when asked for
        cfg.add_arguments(p, fit_config())
    _common(p)

    from talkinghead.data.prepare import PrepareConfig

    p = sub.add_parser("prepare", help="videos (HDTF / VoxCeleb2 / LRS2 layouts) -> training folder",
                       description="Prepare every video under DATASET_DIR for training: 25 fps, 16 kHz audio, mel, "
                                   "landmarks, tracked motion, aligned face crops, audio-visual offset. Resumable; bad "
                                   "clips are logged to OUTPUT/errors.log and skipped.")
    p.add_argument("dataset", help="folder of videos, searched recursively")
    p.add_argument("-o", "--output", required=True, help="prepared folder (created)")
    cfg.add_arguments(p, PrepareConfig)
    _common(p)

    p = sub.add_parser("label-speech", help="real speech -> training clips labelled by the phonetic lips",
                       description="Label every recording under SPEECH_DIR with the phonetic lips (force-aligned to "
                                   "a .txt transcript beside it when there is one), as clips for `train lips`: real "
                                   "voices for the learned lips. Resumable; bad files are logged to OUTPUT/errors.log.")
    p.add_argument("speech", help="folder of recordings (wav, mp3, m4a, flac, ogg, opus), searched recursively")
    p.add_argument("-o", "--output", required=True, help="labelled folder (created)")
    _common(p)

    from talkinghead.data.synth import SynthConfig

    p = sub.add_parser("synth", help="synthetic speech corpus with exact lip labels (espeak-ng, many languages)",
                       description="Write a training folder of random utterances spoken by espeak-ng in many "
                                   "languages and voices, augmented (noise, reverberation, band-limiting, codecs, "
                                   "speed), with lip channels from the exact phoneme timings. Resumable.")
    p.add_argument("-o", "--output", required=True, help="corpus folder (created)")
    cfg.add_arguments(p, SynthConfig)
    _common(p)

    train = sub.add_parser("train", help="train a model on a prepared folder").add_subparsers(dest="model",
                                                                                              required=True)
    for name, help_text in TRAINER_HELP.items():
        p = train.add_parser(name, help=help_text, description=f"Train or resume the {help_text} on a prepared "
                             "folder (single process, or DDP under torchrun); the checkpoint carries its config.")
        p.add_argument("--data", required=True, help="clip folder(s) from `prepare`, `synth` or `label-speech`, "
                       "comma-separated; DIR*N counts DIR's clips N times")
        p.add_argument("-o", "--output", required=True, help="checkpoint file (.pt); resumed when it exists")
        if argv is not None and "train" in argv and name in argv:  # its options import torch: only when asked for
            cfg.add_arguments(p, trainers()[name][0])
        _common(p)
    for add, _ in (extra or {}).values():
        add(sub)
    return parser


def _animate(args: argparse.Namespace, bars: Bars) -> dict:
    motion = Motion.load(args.motion) if args.motion else None
    return animate(args.image, args.audio, args.output, cfg.build(AnimateConfig, args.config, args), motion,
                   bars("animate"))


def _dub(args: argparse.Namespace, bars: Bars) -> dict:
    motion = Motion.load(args.motion) if args.motion else None
    return dub(args.video, args.audio, args.output, cfg.build(DubConfig, args.config, args),
               bars, motion)


def _stream(args: argparse.Namespace, bars: Bars) -> dict:
    from talkinghead.io import live
    from talkinghead.pipeline.animate import portrait_for
    from talkinghead.pipeline.stream import Stream, play

    config = cfg.build(StreamConfig, args.config, args)
    if not 1 <= args.chunk_ms <= 1000:
        raise InputError(None, f"--chunk-ms {args.chunk_ms} is outside 1..1000")
    if args.record:
        check_output(args.record)
    stream = Stream(portrait_for(args.image, config), config)
    size = stream.portrait.size
    sinks: list = []
    source = live.FilePlayer(args.audio, args.chunk_ms) if args.audio else live.Microphone(args.chunk_ms)
    try:
        sinks += [live.Window()] if args.window else []
        sinks += [live.VirtualCamera(size, config.fps)] if args.virtual_camera else []
        sinks += [live.Recorder(args.record, size, config.fps, config.crf)] if args.record else []
        summary = play(stream, source, sinks)
    finally:
        source.close()
    return {**summary, "output": args.record, "chunk_ms": args.chunk_ms, "renderer": config.renderer_name,
            "width": size[0], "height": size[1]}


def _motion(args: argparse.Namespace, bars: Bars) -> dict:
    motion = motion_from_audio(args.audio, cfg.build(MotionConfig, args.config, args))
    return {**_write_motion_files(motion, args), "channels": sorted(motion.channels)}


def _track(args: argparse.Namespace, bars: Bars) -> dict:
    motion = track_motion(args.video, cfg.build(TrackConfig, args.config, args), bars("track"))
    return {**_write_motion_files(motion, args), "found": motion.meta["found"], "blinks": len(motion.meta["blinks"])}


def _fit(args: argparse.Namespace, bars: Bars) -> dict:
    from talkinghead.train.fit import fit_avatar

    return fit_avatar(args.videos, args.output, cfg.build(fit_config(), args.config, args),
                      bars("fit", "s"), bars("track and cut"))


def _report(args: argparse.Namespace, bars: Bars) -> dict:
    from talkinghead.eval.report import write_report

    return {"output": str(write_report(args.results, Path(args.output), title=args.title))}


def _prepare(args: argparse.Namespace, bars: Bars) -> dict:
    from talkinghead.data.prepare import PrepareConfig, prepare_dataset

    return prepare_dataset(args.dataset, args.output, cfg.build(PrepareConfig, args.config, args),
                           bars("prepare", "clip"))


def _label_speech(args: argparse.Namespace, bars: Bars) -> dict:
    from talkinghead.data.speech_labels import label_speech

    return label_speech(args.speech, args.output, bars("label", "file"))


def _synth(args: argparse.Namespace, bars: Bars) -> dict:
    from talkinghead.data.synth import SynthConfig, synth_corpus

    return synth_corpus(args.output, cfg.build(SynthConfig, args.config, args),
                        bars("synth", "utterance"))


def _train(args: argparse.Namespace, bars: Bars) -> dict:
    config_class, train = trainers()[args.model]
    return train(args.data, args.output, cfg.build(config_class, args.config, args),
                 bars(f"train {args.model}", "step"))


def _evaluate(args: argparse.Namespace, bars: Bars) -> dict:
    """Score the generated videos; the summary carries the per-clip records and the table printed for people."""
    from talkinghead.eval import evaluate, results

    config = cfg.build(EvalConfig, args.config, args)
    pairs = evaluate.pair_inputs(args.generated, args.reference, args.audio, args.source)
    label = lambda name: bars(f"eval {name}")  # noqa: E731
    clips, totals = evaluate.evaluate(pairs, config, label)
    if args.save:
        results.save_results(args.save, clips, totals)
    return {"clips": [c.record() for c in clips], "summary": {**results.summarize(clips), **totals},
            "saved": args.save, "table": results.table(clips, totals)}


def _write_motion_files(motion: Motion, args: argparse.Namespace) -> dict:
    """Write the motion (-o) and the exports asked for (--cues, --arkit), each atomically, the format chosen by the
    suffix; returns the summary's common part."""
    from talkinghead.io.video import atomic_output
    from talkinghead.motion import export

    writers = {
        "motion": motion.formats(),
        "cues": {".json": lambda: export.rhubarb_json(motion), ".tsv": lambda: export.rhubarb_tsv(motion)},
        "arkit": {".json": lambda: export.arkit_json(motion), ".csv": lambda: export.arkit_csv(motion)},
    }
    jobs = [(kind, Path(path)) for kind, path in (("motion", args.output), ("cues", args.cues), ("arkit", args.arkit))
            if path]
    for kind, path in jobs:
        if path.suffix.lower() not in writers[kind]:
            raise InputError(path, f"unsupported {kind} format (use {' or '.join(writers[kind])})")
    for kind, path in jobs:
        with atomic_output(path) as tmp:
            tmp.write_text(writers[kind][path.suffix.lower()]())
    return {"output": args.output, "frames": motion.n_frames, "fps": motion.fps, "seconds": round(motion.duration, 3)}


# command -> the function that runs it on the parsed arguments and returns its summary
COMMANDS: dict[str, Callable[[argparse.Namespace, Bars], dict]] = {
    "animate": _animate, "dub": _dub, "stream": _stream, "motion": _motion, "track": _track, "eval": _evaluate,
    "report": _report, "fit": _fit, "prepare": _prepare, "label-speech": _label_speech, "synth": _synth,
    "train": _train,
}


def run(args: argparse.Namespace, bars: Bars | None = None, extra: Extra | None = None) -> dict:
    """Execute one parsed command; returns its summary. ``bars`` gives each stage's progress hook (default: a bar on
    standard error unless ``--quiet``)."""
    command = COMMANDS.get(args.command) or (extra or {})[args.command][1]
    return command(args, bars or (lambda label, unit="frame": _progress(args.quiet, label, unit)))


def run_argv(argv: list[str], bars: Bars | None = None) -> dict:
    """Parse and run one command line as ``talkinghead`` does (the job runners' way in); options argparse refuses
    raise InputError with its own last line instead of exiting."""
    usage = io.StringIO()
    try:
        with contextlib.redirect_stderr(usage):
            args = build_parser(argv).parse_args(argv)
    except SystemExit:
        raise InputError(None, (usage.getvalue().strip().splitlines() or ["invalid options"])[-1]
                         .split(": error: ", 1)[-1]) from None
    return run(args, bars)


def main(argv: list[str] | None = None, extra: Extra | None = None) -> int:
    """Run the command line ``argv``; its exit status (a summary may set it as ``exit_code``)."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv, extra).parse_args(argv)
    try:
        with stop_on_sigterm():
            summary = run(args, extra=extra)
    except InputError as exc:
        print(f"talkinghead: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # invalid option values, e.g. an unknown generator name
        print(f"talkinghead: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("talkinghead: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("talkinghead: terminated", file=sys.stderr)
        return 143
    table, code = summary.pop("table", None), summary.pop("exit_code", 0)
    if args.json:
        print(json.dumps(summary))
    elif table:
        print(table)
    elif not args.quiet:
        extent = f" ({summary['frames']} frames, {summary['seconds']} s)" if "frames" in summary else ""
        print(f"wrote {summary['output']}{extent}", file=sys.stderr)
    return code
