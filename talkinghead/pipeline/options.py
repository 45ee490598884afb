"""The options of animate, dub, track and stream, each defined once with its default, range and help (``--name value``
on the command line, or a YAML/JSON ``--config`` file)."""

from __future__ import annotations

from dataclasses import dataclass

from talkinghead.config import Checked, option
from talkinghead.motion.live import LiveMotionConfig
from talkinghead.motion.options import GeneratorOptions, LipsWeights
from talkinghead.render import registry as renderers

LIPS_HELP = ("lip motion generator: blend (the mean of phonetic and learned: the best on speakers nothing was tuned "
             "on), phonetic (recognised English phones), learned (from the sound, any language) or causal (the live "
             "stream's: from the sound heard so far and 0.1 s ahead)")
RENDERER_HELP = (f"renderer that draws the frames, one of: {', '.join(renderers.available())} (default: the "
                 "avatar's, else warp, which moves the picture's own pixels along a face mesh, any face; hrdecoder "
                 "draws the mouth with a decoder fitted to one person)")


@dataclass
class Speech(Checked):
    transcript: str | None = option(None, "what is said, for forced alignment of the phones (English)", metavar="TEXT")
    lips: str = option("blend", LIPS_HELP)


@dataclass
class FaceChoice(Checked):
    face_index: int = option(0, "which face, when there are several (0 = the largest)", range=(0, 99))


@dataclass
class VideoOutput(Checked):
    renderer: str | None = option(None, RENDERER_HELP)
    avatar: str | None = option(None, "avatar file made by `talkinghead fit`: the mouth is drawn by the renderer "
                                "fitted to that person", metavar="FILE")

    @property
    def renderer_name(self) -> str:
        """The renderer asked for; by default the avatar's, or warp without one."""
        if self.renderer is not None:
            return self.renderer
        return renderers.avatar_renderer(self.avatar) if self.avatar else "warp"
    crf: int = option(20, "H.264 quality (lower is better, 18-28 typical)", range=(0, 51))


@dataclass
class MotionConfig(GeneratorOptions, Speech):
    """How speech becomes motion: the generator of each kind of channel, and the options they read."""

    fps: float = option(25.0, "video frames per second", range=(1, 120))
    expression_model: str = option("natural", "blink and brow generator: natural (rules) or learned (sampled "
                                   "recurrent network)")
    pose: str = option("prosody", "head motion generator: prosody (rules), diffusion or vae (learned; vae also "
                       "sets the blinks)")
    gaze: str = option("camera", "gaze: 'camera' holds eye contact, 'free' glances away now and then")

    def generators(self) -> dict[str, str]:
        """Generator kind -> the name chosen for it."""
        return {"lips": self.lips, "expression": self.expression_model, "pose": self.pose, "gaze": self.gaze}


@dataclass
class AnimateConfig(MotionConfig, FaceChoice, VideoOutput):
    """How motion becomes video."""

    size: int = option(512, "side of the face-centred square output, in pixels", range=(64, 4096))
    full_frame: bool = option(False, "keep the whole picture instead of a face-centred square crop")


@dataclass
class DubConfig(LipsWeights, Speech, FaceChoice, VideoOutput):
    """How a video's mouth is re-synced to new speech."""

    mouth_scale: float = option(1.0, "how wide the mouth opens (1 = as animate opens it)", range=(0, 3))
    trim: bool = option(False, "end the video with the speech when the speech is shorter")
    loop: bool = option(False, "cover longer speech by looping the video instead of playing it back and forth")
    work_size: int = option(512, "the face region is processed at most this many pixels across", range=(64, 2048))

    def generators(self) -> dict[str, str]:
        """Generator kind -> the name chosen for it: dub makes only the lips."""
        return {"lips": self.lips}


@dataclass
class TrackConfig(FaceChoice):
    """Which face of a video is tracked into a Motion."""


@dataclass
class StreamConfig(LiveMotionConfig, FaceChoice, VideoOutput):
    """How a live stream draws: frame rate and size, renderer, the live face's options, when frames count as late."""

    fps: float = option(25.0, "video frames per second", range=(1, 60))
    size: int = option(512, "side of the face-centred square frames, in pixels", range=(64, 2048))
    full_frame: bool = option(False, "keep the whole picture instead of a face-centred square crop")
    deadline_ms: float = option(250.0, "a frame drawn later than this after its sound arrived counts as late",
                                range=(1, 10000))
    render_threads: int = option(2, "frames drawn at once (the avatar's decoder needs two cores for 25 fps)",
                                 range=(1, 16))
    drop_after_ms: float = option(1000.0, "a frame whose sound arrived longer ago than this is skipped (the last "
                                  "frame is repeated) so that the stream catches up", range=(1, 60000))
