"""`talkinghead dub` end to end: the mouth follows the new speech, the rest of the picture stays.

Lip sync is judged as in the animate tests: FaceMesh re-measures the mouth on the output and on a recorded video of
the same speech. A clip dubbed with its own speech must move its mouth like the original; dubbed with another
sentence, like the video of that sentence and no longer like its own. The clips are the shipped GRID-like ones
(tests/media); where ../shared/data is there, the lip-sync tests also run on real GRID videos and a real phone video.
"""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import (CLIP, DATA, FPS, GRID_CLIP, OTHER_CLIP, PORTRAIT, assert_fails_cleanly, audio_seconds, need,
                      probe, run_cli, write_wav)

import talkinghead
from talkinghead.audio.decode import decode
from talkinghead.eval.lipsync import best_lag, pearson
from talkinghead.face import regions
from talkinghead.face.normalize import face_frame
from talkinghead.face.track import track_video
from talkinghead.io.playback import FrameReader, frame_order
from talkinghead.io.video import Mp4Writer, read_frames
from talkinghead.motion.motion import Motion
from talkinghead.motion.signals import smooth
from talkinghead.pipeline import DubConfig
from talkinghead.render.dub import DubCompositor, DubPlan, DubRenderConfig, DubSource

pytestmark = pytest.mark.slow
SOURCE = CLIP.video  # 360x288, 75 frames: Grace Hopper saying "bin blue at f two now"
OTHER = OTHER_CLIP.video  # "lay red with p nine again", another speaker
OTHER_GRID = DATA / "lipnet-grid" / "lrwp9a.mpg"  # real GRID: "lay red with p nine again", another speaker
PORTRAIT_VIDEO = DATA / "latentsync" / "demo1_video.mp4"  # real: 1080x1920 HEVC, small face


def dub(video: Path, audio: Path, output: Path, *options: object):
    return run_cli("dub", "--video", video, "--audio", audio, "-o", output, *options)


def write_video(path: Path, frames, fps: float = FPS, codec: str = "libx264", rotation: int = 0) -> Path:
    """Frames written with PyAV, for unusual containers and codecs; ``rotation``: display matrix, degrees ccw."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def above_nose(frame: np.ndarray, lms: np.ndarray) -> np.ndarray:
    """The face above the nose, out of the blend ring's reach."""
    eye = regions.eye_distance(lms)
    y1 = int(lms[[98, 2, 327], 1].min() - 0.25 * eye)
    x0, x1 = int(lms[regions.FACE_OVAL, 0].min()), int(lms[regions.FACE_OVAL, 0].max())
    return frame[:y1, max(0, x0):x1].astype(np.int16)


def dub_own_speech(video: Path, output: Path):
    """``video`` dubbed with its own speech through the CLI: (output, run, seconds the command took)."""
    start = time.perf_counter()
    run = dub(video, video, output, "--json", "--quiet")
    elapsed = time.perf_counter() - start
    assert run.code == 0, run.stderr
    return output, run, elapsed


@pytest.fixture(scope="session")
def own_dub(tmp_path_factory):
    """The shipped clip dubbed with its own speech through the CLI."""
    return dub_own_speech(SOURCE, tmp_path_factory.mktemp("dub") / "own.mp4")


@pytest.fixture(scope="session")
def grid_dub(tmp_path_factory):
    """The real GRID clip dubbed with its own speech through the CLI."""
    need(GRID_CLIP)
    return dub_own_speech(GRID_CLIP, tmp_path_factory.mktemp("grid_dub") / "own.mp4")


@pytest.fixture(scope="session")
def source_track(clip_track):
    return clip_track


# the file a user gets ----------------------------------------------------------------------------------------------


def test_output_keeps_the_video_and_carries_the_new_speech(own_dub):
    output, run, elapsed = own_dub
    info = probe(output)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height, info.fps) == (360, 288, FPS)
    assert info.frames == 75 == run.summary["source_frames"]
    assert abs(info.audio_seconds - audio_seconds(SOURCE)) <= 1 / FPS
    summary = run.summary
    assert summary["frames"] == 75 and summary["shots"] == 1 and summary["dubbed_share"] == 1.0
    assert run.stderr == ""
    # seconds the dub took (tracking part of them), within what the whole command took and most of it
    assert summary["track_seconds"] <= summary["wall_seconds"] <= elapsed and summary["wall_seconds"] >= 0.3 * elapsed
    assert summary["real_time_factor"] == pytest.approx(summary["wall_seconds"] / summary["seconds"], rel=0.02)


@pytest.mark.parametrize("source", ["shipped_clip", "grid"])
def test_mouth_follows_its_own_speech_like_the_original(source, request):
    """Measured: r 0.67 at lag 0 on the real GRID clip (animate on the first frame: 0.64); the shipped clip, whose
    mouth was made from its transcript, r 0.71 at lag 1."""
    if source == "grid":
        output, recorded = request.getfixturevalue("grid_dub")[0], request.getfixturevalue("real_track")
    else:
        output, recorded = request.getfixturevalue("own_dub")[0], request.getfixturevalue("source_track")
    r, lag = best_lag(track_video(output).mouth_opening, recorded.mouth_opening)
    assert r >= (0.55 if source == "grid" else 0.65) and abs(lag) <= 1, (r, lag)


def test_upper_face_stays_as_in_the_source(own_dub, source_track, tmp_path):
    """Above the nose the output differs from the source no more than a plain H.264 re-encode of it does."""
    plain = tmp_path / "reencoded.mp4"
    with Mp4Writer(plain, 360, 288, FPS, crf=DubConfig().crf) as writer:
        for frame in read_frames(SOURCE):
            writer.write(frame)

    def difference(video: Path) -> float:
        return float(np.mean([np.abs(above_nose(out, lms) - above_nose(src, lms)).mean() for out, src, lms in
                              zip(read_frames(video), read_frames(SOURCE), source_track.landmarks)]))

    dubbed, reencoded = difference(own_dub[0]), difference(plain)
    assert dubbed <= 1.05 * reencoded, (dubbed, reencoded)


def test_blend_ring_flickers_no_more_than_the_source(own_dub):
    summary = own_dub[1].summary
    assert summary["boundary_flicker"] <= 1.1 * summary["source_flicker"], summary


@pytest.mark.parametrize("source", ["shipped_clip", "grid"])
def test_mouth_follows_another_sentence_not_its_own(source, tmp_path, request):
    """bbaf2n's speaker saying lrwp9a's sentence: the mouth moves like lrwp9a's speaker's, unlike its own.

    The shipped clips share GRID's rhythm, and on their synthetic voices phone recognition finds the articulation no
    better than that rhythm (its jaw correlates 0.41 with the sentence's own lips within the speech, 0.42 with the
    other's): there the dub is given the transcript, so that it is the renderer that is tested, not the recogniser.
    """
    if source == "grid":
        need(GRID_CLIP, OTHER_GRID)
        video, other, own, options = GRID_CLIP, OTHER_GRID, request.getfixturevalue("real_track"), []
    else:
        video, other, own = SOURCE, OTHER, request.getfixturevalue("source_track")
        options = ["--transcript", OTHER_CLIP.text]
    output = tmp_path / "cross.mp4"
    assert dub(video, other, output, "--quiet", *options).code == 0
    mouth = track_video(output).mouth_opening
    new, _ = best_lag(mouth, track_video(other).mouth_opening)
    old, _ = best_lag(mouth, own.mouth_opening)
    if source == "grid":
        assert new >= 0.55 and new >= old + 0.15, (new, old)
    else:  # measured: 0.97 and 0.48
        assert new >= 0.85 and new >= old + 0.3, (new, old)


# the renderer itself: exact pixels ----------------------------------------------------------------------------------


def render(video: Path, motion: Motion, config: DubRenderConfig | None = None):
    """Source frames, dubbed frames and the plan, straight from the renderer (no encoding)."""
    reader = FrameReader(video)
    source = list(reader.scan())
    config = config or DubRenderConfig()
    plan = DubPlan.from_track(track_video(video).landmarks, FPS, config)
    frames = list(DubCompositor(DubSource(reader, plan, frame_order(len(source), motion.n_frames), config))
                  .render(motion))
    return source, frames, plan


def test_pixels_outside_the_mouth_region_are_untouched(source_track):
    """The renderer's frames equal the decoded source exactly above the nose; only the lower face changes."""
    motion = Motion.neutral(75, FPS).update(jaw_open=0.5 + 0.5 * np.sin(np.arange(75) / 2), lip_round=np.full(75, 0.3))
    source, frames, _ = render(SOURCE, motion)
    for src, out, lms in zip(source, frames, source_track.landmarks):
        assert np.array_equal(above_nose(src, lms), above_nose(out, lms))
        changed = np.any(src != out, axis=-1)
        assert changed.any()
        eye = regions.eye_distance(lms)
        x0, x1 = lms[regions.FACE_OVAL, 0].min() - 0.5 * eye, lms[regions.FACE_OVAL, 0].max() + 0.5 * eye
        assert not changed[:, :int(x0)].any() and not changed[:, int(x1):].any()  # nor the background beside it


def test_frames_without_a_face_pass_through_with_a_fade(tmp_path):
    """A second without a face mid-clip: those frames stay as they are, and the dub fades out and back in."""
    frames = list(read_frames(SOURCE))
    rng = np.random.default_rng(0)
    for k in range(30, 45):
        frames[k] = rng.integers(90, 160, frames[k].shape, dtype=np.uint8)
    video = write_video(tmp_path / "gap.mp4", frames)
    motion = Motion.neutral(75, FPS).update(jaw_open=np.full(75, 0.8))  # a wide open mouth throughout
    source, dubbed, plan = render(video, motion)
    changed = np.array([np.abs(s.astype(int) - d).sum() for s, d in zip(source, dubbed)])
    assert (changed[30:45] == 0).all()
    assert (plan.weight[30:45] == 0).all() and (plan.weight[:26] == 1).all() and (plan.weight[49:] == 1).all()
    out, back = plan.weight[26:30], plan.weight[45:49]  # 0.2 s fades
    assert (np.diff(out) < 0).all() and (np.diff(back) > 0).all() and 0 < min(out.min(), back.min())
    assert changed[20] > changed[28] > 0


# lengths ------------------------------------------------------------------------------------------------------------


def speech(path: Path, seconds: float) -> Path:
    """The clip's sentence cut or repeated to ``seconds``."""
    x = decode(SOURCE)
    return write_wav(path, np.tile(x, int(np.ceil(seconds * 16000 / len(x))))[: int(seconds * 16000)])


def test_shorter_speech_leaves_the_rest_with_a_closed_mouth(tmp_path, source_track):
    output = tmp_path / "short.mp4"
    run = dub(SOURCE, speech(tmp_path / "one.wav", 1.2), output, "--json", "--quiet")
    assert run.code == 0, run.stderr
    info = probe(output)
    assert info.frames == 75 and abs(info.audio_seconds - 3.0) <= 1 / FPS  # the sound is padded with silence
    mouth = track_video(output).mouth_opening
    real = source_track.mouth_opening
    assert np.nanmax(mouth[40:]) < 0.05 < np.nanmax(real[40:]), (np.nanmax(mouth[40:]), np.nanmax(real[40:]))


def test_trim_ends_the_video_with_the_speech(tmp_path):
    output = tmp_path / "trimmed.mp4"
    assert dub(SOURCE, speech(tmp_path / "one.wav", 1.2), output, "--trim", "--quiet").code == 0
    info = probe(output)
    assert info.frames == 30 and abs(info.audio_seconds - 1.2) <= 1 / FPS


@pytest.mark.parametrize("mode", ["pingpong", "loop"])
def test_longer_speech_plays_the_video_back_and_forth_or_loops(tmp_path, mode, source_track):
    """7 s of speech on a 3 s clip: ping-pong shows source frame 73 again at output 75; a loop shows frame 0."""
    output = tmp_path / f"{mode}.mp4"
    options = ["--loop"] if mode == "loop" else []
    assert dub(SOURCE, speech(tmp_path / "seven.wav", 7.0), output, "--quiet", *options).code == 0
    info = probe(output)
    assert info.frames == 175 and abs(info.audio_seconds - 7.0) <= 1 / FPS
    out = list(read_frames(output))
    lms = source_track.landmarks
    expected = 73 if mode == "pingpong" else 0
    same = np.abs(above_nose(out[75], lms[expected]) - above_nose(out[expected], lms[expected])).mean()
    other = np.abs(above_nose(out[75], lms[expected]) - above_nose(out[40], lms[expected])).mean()
    assert same < 0.3 * other, (same, other)


# sources of every kind ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix,codec", [(".webm", "libvpx-vp9"), (".mkv", "libx265"), (".mov", "libx264")])
def test_other_containers_and_codecs(tmp_path, suffix, codec):
    video = write_video(tmp_path / f"clip{suffix}", list(read_frames(SOURCE))[:50], 30, codec)
    output = tmp_path / "out.mp4"
    run = dub(video, speech(tmp_path / "s.wav", 50 / 30), output, "--json", "--quiet")
    assert run.code == 0, run.stderr
    info = probe(output)
    assert info.fps == 30 and info.frames == 50 and run.summary["dubbed_share"] == 1.0


def test_phone_video_stored_on_its_side_is_dubbed_upright(tmp_path, source_track):
    """Frames stored turned a quarter clockwise, with a display matrix that turns them back (as phones write)."""
    sideways = [np.rot90(f, -1) for f in read_frames(SOURCE)]
    video = write_video(tmp_path / "phone.mp4", sideways, rotation=90)
    output = tmp_path / "out.mp4"
    assert dub(video, SOURCE, output, "--quiet").code == 0
    info = probe(output)
    assert (info.width, info.height) == (360, 288)
    r, _ = best_lag(track_video(output).mouth_opening, source_track.mouth_opening)
    assert r >= 0.55, r


def slow_smile(track) -> tuple[np.ndarray, np.ndarray]:
    """The lip corners' height over the upper lip and the mouth's width (face frame), low-passed over 0.4 s."""
    lms = face_frame(track.landmarks)
    lift = lms[:, [0, 13], 1].mean(1) - lms[:, [regions.MOUTH_RIGHT, regions.MOUTH_LEFT], 1].mean(1)
    width = lms[:, regions.MOUTH_LEFT, 0] - lms[:, regions.MOUTH_RIGHT, 0]
    return smooth(lift, FPS, 0.4), smooth(width, FPS, 0.4)


def test_small_face_in_a_portrait_1080x1920_hevc_video(tmp_path):
    """LatentSync's demo: a seated woman, face 120 px across, HEVC at 1080x1920, smiling on and off.

    Her own speech dubbed back: the mouth follows it, and her smiles (the slow part of the corners' height and of
    the mouth's width) are carried over. Measured: lip-sync r 0.42; smile r 0.74 and width r 0.84 (about 0.55 and
    0.60 with the reference's mouth alone).
    """
    need(PORTRAIT_VIDEO)
    output = tmp_path / "portrait.mp4"
    run = dub(PORTRAIT_VIDEO, PORTRAIT_VIDEO, output, "--json", "--quiet")
    assert run.code == 0, run.stderr
    info = probe(output)
    assert (info.width, info.height, info.frames) == (1080, 1920, 250)
    track, real = track_video(output), track_video(PORTRAIT_VIDEO)
    assert track.found.mean() > 0.98
    r, _ = best_lag(track.mouth_opening, real.mouth_opening)
    assert r >= 0.35, r
    for made, source in zip(slow_smile(track), slow_smile(real)):
        assert pearson(made, source) >= 0.65


def test_python_api(tmp_path):
    """The Python call with options: trimmed to the 2 s of speech, and mouth_scale opens the mouth wider or less."""
    sound = speech(tmp_path / "s.wav", 2.0)
    opening = {}
    for scale in (0.5, 1.2):
        output = tmp_path / f"api_{scale}.mp4"
        summary = talkinghead.dub(SOURCE, sound, output, DubConfig(trim=True, mouth_scale=scale))
        info = probe(output)
        assert summary["frames"] == info.frames == 50 and abs(info.audio_seconds - 2.0) <= 1 / FPS
        opening[scale] = np.nanmean(track_video(output).mouth_opening)
    assert opening[1.2] > 1.5 * opening[0.5], opening  # measured 0.20 and 0.10


# bad input ----------------------------------------------------------------------------------------------------------


def faceless_video(path: Path) -> Path:
    rng = np.random.default_rng(1)
    return write_video(path, [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(10)])


BAD_VIDEOS = {
    "missing": lambda d: d / "nobody.mp4",
    "text_as_video": lambda d: _write(d / "notes.mp4", b"Not a video at all.\n" * 50),
    "truncated": lambda d: _write(d / "cut.mp4", SOURCE.read_bytes()[:30_000]),
    "audio_only": lambda d: write_wav(d / "speech.wav", np.zeros(16000, np.float32)),
    "still_picture": lambda d: PORTRAIT,
    "no_face": lambda d: faceless_video(d / "noise.mp4"),
    "tiny": lambda d: write_video(d / "tiny.mp4", [np.full((48, 48, 3), 128, np.uint8)] * 5),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(BAD_VIDEOS))
def test_bad_video(case, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    video = BAD_VIDEOS[case](tmp_path / "in")
    line = assert_fails_cleanly(dub(video, SOURCE, tmp_path / "out" / "dub.mp4"), video, tmp_path / "out")
    expected = {"missing": "not found", "audio_only": "no video", "still_picture": "still picture", "no_face": "face",
                "tiny": "too small"}
    assert expected.get(case, "video") in line


@pytest.mark.parametrize("case", ["empty", "missing", "text"])
def test_bad_speech(case, tmp_path):
    (tmp_path / "out").mkdir()
    audio = {"empty": lambda: write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32)),
             "missing": lambda: tmp_path / "none.wav",
             "text": lambda: _write(tmp_path / "speech.wav", b"words, not sound\n" * 40)}[case]()
    assert_fails_cleanly(dub(SOURCE, audio, tmp_path / "out" / "dub.mp4"), audio, tmp_path / "out")


def test_output_must_be_mp4(tmp_path):
    (tmp_path / "out").mkdir()
    output = tmp_path / "out" / "dub.avi"
    assert_fails_cleanly(dub(SOURCE, SOURCE, output), output, tmp_path / "out")


# tracking ------------------------------------------------------------------------------------------------------------


def test_following_tracker_agrees_with_whole_frame_tracking(source_track):
    from talkinghead.face.track import track_frames

    with_window = track_frames(read_frames(SOURCE), FPS, follow=True)
    assert with_window.found.all()
    error = np.linalg.norm(with_window.landmarks[..., :2] - source_track.landmarks[..., :2], axis=-1).mean(-1)
    assert np.median(error / regions.eye_distance(source_track.landmarks)) < 0.03


def shifted(frame: np.ndarray, dx: int) -> np.ndarray:
    """The picture moved ``dx`` pixels to the right, its left edge repeated."""
    return np.ascontiguousarray(np.concatenate([np.repeat(frame[:, :1], dx, 1), frame[:, :-dx]], 1))


def test_a_cut_to_another_speaker_makes_two_shots(tmp_path):
    """Two speakers one after the other, framed differently: each shot gets its own reference."""
    other = [shifted(f, 90) for f in read_frames(OTHER)][:50]  # her face 90 px (1.5 eye distances) to the right
    video = write_video(tmp_path / "cut.mp4", list(read_frames(SOURCE))[:50] + other)
    output = tmp_path / "out.mp4"
    run = dub(video, speech(tmp_path / "s.wav", 4.0), output, "--json", "--quiet")
    assert run.code == 0, run.stderr
    assert run.summary["shots"] == 2 and run.summary["dubbed_share"] > 0.9
    plan = DubPlan.from_track(track_video(video).landmarks, FPS, DubRenderConfig())
    assert (plan.shot_of[:50] == 0).all() and (plan.shot_of[50:] == 1).all()
    assert plan.references[0] < 50 <= plan.references[1]  # each speaker's own closed mouth


@pytest.mark.xfail(strict=True, reason="shots are cut only where the face jumps by 0.35 eye distances between two "
                   "frames: a cut to another speaker framed about the same (here 0.33, the face 30 % smaller) goes "
                   "unnoticed, and one reference frame serves both speakers")
def test_a_cut_to_another_speaker_framed_alike_makes_two_shots():
    """The shipped clips cut one after the other as they are: two faces of other sizes in about the same place."""
    landmarks = np.concatenate([track_video(SOURCE).landmarks[:50], track_video(OTHER).landmarks[:50]])
    plan = DubPlan.from_track(landmarks, FPS, DubRenderConfig())
    assert (plan.shot_of[:50] == 0).all() and (plan.shot_of[50:] == 1).all()


def test_face_index_picks_which_of_two_speakers_is_dubbed(tmp_path):
    """Two speakers side by side: the chosen one's mouth changes, the other's stays as it was."""
    pairs = zip(read_frames(SOURCE), read_frames(OTHER))
    video = write_video(tmp_path / "two.mp4", [np.concatenate([a, b], 1) for a, b in pairs])
    tracks = {}
    for index in (0, 1):
        output = tmp_path / f"face{index}.mp4"
        assert dub(video, speech(tmp_path / "s.wav", 3.0), output, "--face-index", index, "--quiet").code == 0
        tracks[index] = track_video(output, face_index=0), track_video(output, face_index=1)
    source = track_video(video, face_index=0), track_video(video, face_index=1)
    for index in (0, 1):
        moved = [np.nanmean(np.abs(tracks[index][k].mouth_opening - source[k].mouth_opening)) for k in (0, 1)]
        assert moved[index] > 2 * moved[1 - index], (index, moved)


def test_a_face_turned_away_is_left_alone(source_track):
    """Frames where the head turns past 40 degrees get no dub, with fades; a slight turn keeps it."""
    from talkinghead.face.pose import head_pose

    lms = source_track.landmarks.copy()
    centre = lms[:, :, :].mean(1, keepdims=True)
    for k, angle in [(k, 55.0) for k in range(30, 45)] + [(k, 15.0) for k in range(60, 70)]:
        a = np.radians(angle)
        turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        lms[k] = (lms[k] - centre[k]) @ turn.T + centre[k]
    assert abs(head_pose(lms[35])[0]) > 45 and abs(head_pose(lms[65])[0]) < 30
    plan = DubPlan.from_track(lms, FPS, DubRenderConfig())
    assert (plan.weight[31:45] == 0).all() and (plan.weight[60:70] == 1).all() and (plan.weight[:26] == 1).all()
    assert (np.diff(plan.weight[25:31]) < 0).all()  # fading out before the turn
