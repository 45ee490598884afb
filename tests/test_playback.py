"""Playing a video's frames by index: forward, looped and ping-pong orders give the very frames of the first pass."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from talkinghead.errors import InputError
from talkinghead.io import playback
from talkinghead.io.playback import FrameReader, frame_order, runs


def numbered_video(path: Path, n: int, codec: str = "libx264", fmt: str | None = None, gop: int = 12) -> Path:
    """A 64x48 video whose frame i is a flat grey of level 8 + 4 i with a moving bar (keyframes every ``gop``)."""
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.gop_size = gop
        for i in range(n):
            rgb = np.full((48, 64, 3), 8 + 4 * i, np.uint8)
            rgb[:, (2 * i) % 60:(2 * i) % 60 + 4] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_pingpong_plays_back_and_forth_without_repeating_the_ends():
    assert frame_order(4, 12).tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]
    assert frame_order(4, 9, "loop").tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    assert frame_order(1, 3).tolist() == [0, 0, 0]
    assert frame_order(5, 3).tolist() == [0, 1, 2]


def test_runs_split_an_order_where_it_turns_or_jumps():
    assert runs(frame_order(4, 12)) == [(0, 3), (2, 0), (1, 3), (2, 1)]
    assert runs(np.array([5, 9, 10, 11, 3])) == [(5, 5), (9, 11), (3, 3)]


@pytest.mark.parametrize("container", ["mp4", "mpg", "webm"])
@pytest.mark.parametrize("mode", ["pingpong", "loop"])
def test_frames_in_any_order_match_the_first_pass(tmp_path, monkeypatch, container, mode):
    codec = {"mp4": "libx264", "mpg": "mpeg1video", "webm": "libvpx-vp9"}[container]
    path = numbered_video(tmp_path / f"clip.{container}", 40, codec, "mpeg" if container == "mpg" else None)
    reader = FrameReader(path)
    first_pass = list(reader.scan())
    assert reader.n_frames == 40
    monkeypatch.setattr(playback, "BLOCK_BYTES", 7 * reader.frame_bytes)  # backward runs in blocks of 7 frames
    order = frame_order(40, 131, mode)
    frames = list(reader.frames(order))
    assert len(frames) == len(order)
    assert all(np.array_equal(f, first_pass[i]) for f, i in zip(frames, order))


def test_reading_by_index_needs_the_first_pass(tmp_path):
    reader = FrameReader(numbered_video(tmp_path / "clip.mp4", 5))
    with pytest.raises(RuntimeError):
        next(reader.frames(np.arange(3)))


def test_a_corrupt_video_is_an_input_error(tmp_path):
    path = numbered_video(tmp_path / "clip.mp4", 30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[:600])
    with pytest.raises(InputError) as err:
        list(FrameReader(cut).scan())
    assert str(cut) in str(err.value)


CSPAN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "long" / "subeff_obama_cspan_61s.mp4"


@pytest.mark.skipif(not CSPAN.exists(), reason="needs ../shared/data (a broadcast stream that opens between keyframes)")
def test_a_stream_that_opens_between_keyframes_reads_from_its_first_frame(tmp_path):
    """C-SPAN's stream decodes 69 frames before its first keyframe: they are read by index as the first pass saw them
    (dub of that clip failed with 'frame 0 cannot be found again')."""
    short = tmp_path / "cspan.mp4"
    with av.open(str(CSPAN)) as source, av.open(str(short), "w") as out:
        video = source.streams.video[0]
        stream = out.add_stream_from_template(video)
        for packet in source.demux(video):
            if packet.dts is None:
                continue
            if packet.pts is not None and packet.pts * video.time_base > 3:
                break
            packet.stream = stream
            out.mux(packet)
    with av.open(str(short)) as container:
        assert not next(container.decode(video=0)).key_frame
    reader = FrameReader(short)
    first = list(reader.scan())
    assert len(first) >= 60
    for order in (np.arange(0, 8), np.arange(20, 5, -1)):
        assert all(np.array_equal(a, first[i]) for a, i in zip(reader.frames(order), order))
