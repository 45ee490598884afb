"""The web app of ``talkinghead serve`` (Gradio): Animate, Dub, Avatars and Motion tabs, each submitting a job to the
same :class:`~talkinghead.serve.service.Service` as the HTTP API and following its progress.

Errors show in the page as the CLI's one line (in the element ``#error`` of each tab), never as a stack trace.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import gradio as gr

from talkinghead.errors import InputError
from talkinghead.serve.jobs import Job
from talkinghead.serve.service import EXAMPLES, Refused, Service, Upload

POLL_S = 0.5


def _uploads(**paths: str | list[str] | None) -> dict[str, list[Upload]]:
    """The files Gradio saved, opened as uploads (by field)."""
    out: dict[str, list[Upload]] = {}
    for field, value in paths.items():
        for path in [value] if isinstance(value, str) else value or []:
            out.setdefault(field, []).append(Upload(Path(path).name, open(path, "rb")))  # noqa: SIM115
    return out


def _spoken(text: str, voice: str) -> str:
    """``text`` said by espeak-ng, as a wav file in the temporary folder."""
    from talkinghead.data.prepare import write_wav
    from talkinghead.data.tts import synthesize

    path = Path(tempfile.mkdtemp(prefix="talkinghead-tts-")) / "speech.wav"
    write_wav(path, synthesize(text, voice).to_audio())
    return str(path)


class WebApp:
    """The Gradio Blocks over a service."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def run(self, kind: str, uploads: dict[str, list[Upload]], options: dict, request: gr.Request | None,
            progress: gr.Progress, avatar: str | None = None) -> tuple[Job | None, str]:
        """Submit a job and wait for it, showing its progress; (the finished job, "") or (None, the error line)."""
        client = request.client.host if request is not None and request.client else "web"
        try:
            job = self.service.submit(kind, uploads, options, client, avatar or None)
        except (InputError, Refused) as exc:
            return None, f"**Error:** {exc}"
        finally:
            for files in uploads.values():
                for upload in files:
                    upload.stream.close()
        while job.state in ("queued", "running"):
            left = f", {job.eta:.0f} s left" if job.eta else ""
            progress(job.progress, desc=f"{job.state} {job.stage}{left}".strip())
            time.sleep(POLL_S)
            job = self.service.store.get(job.id) or dataclasses.replace(job, state="cancelled")
        if job.state != "done":
            return None, f"**Error:** {job.error or 'the job was ' + job.state}"
        return job, ""

    def avatars(self) -> list[tuple[str, str]]:
        """(label, fit job id) of every avatar made."""
        return [(f"{job.summary.get('videos', 1)} clip(s), {job.summary.get('footage_seconds', 0):.0f} s, "
                 f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(job.finished or 0))} ({job.id[:8]})", job.id)
                for job in self.service.store.jobs("done", "fit")]

    def animate(self, image: str | None, audio: str | None, text: str, voice: str, avatar: str | None, lips: str,
                pose: str, blink_rate: float, gaze: str, size: float, seed: float, request: gr.Request,
                progress: gr.Progress = gr.Progress()) -> tuple[str | None, str]:
        if not audio and text.strip():
            try:
                audio = _spoken(text, voice)
            except InputError as exc:
                return None, f"**Error:** {exc}"
        options = {"lips": lips, "pose": pose, "blink_rate": blink_rate, "gaze": gaze, "size": int(size),
                   "seed": int(seed)}
        job, error = self.run("animate", _uploads(image=image, audio=audio), options, request, progress, avatar)
        return (str(job.folder / job.files[0]) if job else None), error

    def dub(self, video: str | None, audio: str | None, avatar: str | None, lips: str, request: gr.Request,
            progress: gr.Progress = gr.Progress()) -> tuple[str | None, str]:
        job, error = self.run("dub", _uploads(video=video, audio=audio), {"lips": lips}, request, progress, avatar)
        return (str(job.folder / job.files[0]) if job else None), error

    def fit(self, videos: list[str] | None, minutes: float, request: gr.Request,
            progress: gr.Progress = gr.Progress()) -> tuple[str, object, object, object]:
        job, error = self.run("fit", _uploads(videos=videos), {"minutes": minutes}, request, progress)
        done = f"Avatar `{job.id}` made: {job.summary}" if job else ""
        choices = self.avatars()
        return error or done, gr.update(choices=choices), gr.update(choices=choices), gr.update(choices=choices)

    def motion(self, audio: str | None, video: str | None, request: gr.Request,
               progress: gr.Progress = gr.Progress()) -> tuple[list[str] | None, str]:
        kind, uploads = ("track", _uploads(video=video)) if video else ("motion", _uploads(audio=audio))
        job, error = self.run(kind, uploads, {}, request, progress)
        return ([str(job.folder / name) for name in job.files] if job else None), error

    def blocks(self) -> gr.Blocks:
        """The app: one tab per job kind, examples that run with one click."""
        from talkinghead.data.tts import list_voices
        from talkinghead.motion.registry import available
        from talkinghead.pipeline import AnimateConfig

        lip_generators = available("lips")  # every registered generator, as the CLI accepts them

        avatars = self.avatars()
        with gr.Blocks(title="talkinghead", analytics_enabled=False) as app:
            gr.Markdown("# talkinghead\nA portrait and speech become a talking video; a video's mouth follows new "
                        "speech; a person's own footage becomes an avatar. Jobs queue on this server and also run "
                        "through its HTTP API (`/docs`).")
            with gr.Tab("Animate"):
                with gr.Row():
                    with gr.Column():
                        image = gr.Image(sources=["upload", "webcam"], type="filepath", label="Portrait",
                                         elem_id="animate-image")
                        audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Speech",
                                         elem_id="animate-audio")
                        text = gr.Textbox(label="...or text to speak (espeak-ng)", lines=2)
                        voice = gr.Dropdown(list_voices(), value="en", label="Voice")
                        avatar = gr.Dropdown(avatars, value=None, label="Avatar (optional; its still when no "
                                             "portrait is given)")
                        with gr.Accordion("Options", open=False):
                            lips = gr.Dropdown(lip_generators, value=AnimateConfig.lips,
                                               label="Lips")
                            pose = gr.Dropdown(available("pose"), value=AnimateConfig.pose,
                                               label="Head motion")
                            blink = gr.Slider(0, 60, value=AnimateConfig.blink_rate, step=1,
                                              label="Blinks per minute")
                            gaze = gr.Dropdown(available("gaze"), value=AnimateConfig.gaze,
                                               label="Gaze")
                            size = gr.Slider(128, 1024, value=AnimateConfig.size, step=32, label="Size")
                            seed = gr.Number(value=AnimateConfig.seed, precision=0, label="Seed")
                        run = gr.Button("Animate", variant="primary", elem_id="animate-run")
                    with gr.Column():
                        video = gr.Video(label="Talking video", elem_id="animate-video")
                        error = gr.Markdown(elem_id="error")
                gr.Examples([[str(EXAMPLES / "portrait.jpg"), str(EXAMPLES / "speech.wav")]], [image, audio],
                            label="Example (one click, then Animate)")
                run.click(self.animate, [image, audio, text, voice, avatar, lips, pose, blink, gaze, size, seed],
                          [video, error])
            with gr.Tab("Dub"):
                with gr.Row():
                    with gr.Column():
                        dub_video = gr.Video(sources=["upload"], label="Video of the person")
                        dub_audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="New speech")
                        dub_avatar = gr.Dropdown(avatars, value=None, label="Avatar (optional)")
                        dub_lips = gr.Dropdown(lip_generators, value=AnimateConfig.lips,
                                               label="Lips")
                        dub_run = gr.Button("Dub", variant="primary")
                    with gr.Column():
                        dubbed = gr.Video(label="Dubbed video")
                        dub_error = gr.Markdown(elem_id="dub-error")
                dub_run.click(self.dub, [dub_video, dub_audio, dub_avatar, dub_lips], [dubbed, dub_error])
            with gr.Tab("Avatars"):
                gr.Markdown("A minute or more of one person talking to the camera; fitting takes the minutes "
                            "asked for, plus tracking.")
                footage = gr.File(file_count="multiple", file_types=["video"], label="Footage")
                minutes = gr.Slider(1, 60, value=10, step=1, label="Training minutes")
                fit_run = gr.Button("Fit an avatar", variant="primary")
                fit_status = gr.Markdown(elem_id="fit-status")
                listed = gr.Dropdown(avatars, value=None, label="Avatars made")
                fit_run.click(self.fit, [footage, minutes], [fit_status, avatar, dub_avatar, listed])
            with gr.Tab("Motion"):
                gr.Markdown("The face motion of speech, or measured from a video: JSON, 2D mouth cues, ARKit "
                            "blendshapes.")
                with gr.Row():
                    motion_audio = gr.Audio(sources=["upload"], type="filepath", label="Speech")
                    motion_video = gr.Video(sources=["upload"], label="...or a video")
                motion_run = gr.Button("Export motion", variant="primary")
                motion_files = gr.File(label="Motion files")
                motion_error = gr.Markdown(elem_id="motion-error")
                motion_run.click(self.motion, [motion_audio, motion_video], [motion_files, motion_error])
        return app
