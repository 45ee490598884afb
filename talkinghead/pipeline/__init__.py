"""The jobs, each a short story over the layers below: :func:`animate`, :func:`dub`, :func:`track_motion` and
:func:`motion_from_audio`, and the live :class:`~talkinghead.pipeline.stream.Stream` (imported from its module: it
loads torch); the command line and the Python API call these."""

from talkinghead.pipeline.animate import animate
from talkinghead.pipeline.dub import dub
from talkinghead.pipeline.generate import generate_motion, motion_from_audio
from talkinghead.pipeline.options import AnimateConfig, DubConfig, MotionConfig, StreamConfig, TrackConfig
from talkinghead.pipeline.track import track_motion

__all__ = ["AnimateConfig", "DubConfig", "MotionConfig", "StreamConfig", "TrackConfig", "animate", "dub",
           "generate_motion", "motion_from_audio", "track_motion"]
