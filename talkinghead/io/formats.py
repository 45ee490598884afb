"""The file suffixes talkinghead reads, in one place: pictures, sound and video (any of which may carry speech)."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".avi")
SPEECH_SUFFIXES = AUDIO_SUFFIXES + VIDEO_SUFFIXES  # a video's sound track is speech too
