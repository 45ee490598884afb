"""Audio: decoding any format to 16 kHz mono, frame features, phones."""

from talkinghead.audio.decode import SAMPLE_RATE, Audio, load_audio

__all__ = ["SAMPLE_RATE", "Audio", "load_audio"]
