"""talkinghead: audio-driven talking-face video (audio -> Motion -> renderer -> mp4)."""

from talkinghead.errors import InputError
from talkinghead.motion.motion import Motion

__version__ = "0.1.0"


def animate(*args, **kwargs):
    """Portrait + speech -> talking video; see :func:`talkinghead.pipeline.animate`."""
    from talkinghead.pipeline import animate as _animate

    return _animate(*args, **kwargs)


def dub(*args, **kwargs):
    """Video + new speech -> the same video with the mouth re-synced; see :func:`talkinghead.pipeline.dub`."""
    from talkinghead.pipeline import dub as _dub

    return _dub(*args, **kwargs)


def track_motion(*args, **kwargs):
    """A real video's face -> Motion; see :func:`talkinghead.pipeline.track_motion`."""
    from talkinghead.pipeline import track_motion as _track_motion

    return _track_motion(*args, **kwargs)


__all__ = ["InputError", "Motion", "animate", "dub", "track_motion", "__version__"]
