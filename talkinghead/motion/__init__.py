"""Motion: the per-frame face channels, their generators and exporters."""

from talkinghead.motion.channels import CHANNELS, LIP_CHANNELS, Channel
from talkinghead.motion.motion import Motion

__all__ = ["CHANNELS", "LIP_CHANNELS", "Channel", "Motion"]
