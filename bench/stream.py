"""Live streaming, sustained: minutes of continuous speech played at real-time speed through a Stream.

Prints, per window of stream time, the frames drawn, late and dropped, the latency from a chunk of sound entering
the stream to the frame that shows it leaving (p50, p95, max), the CPU load and the resident memory; then the whole
run's summary. The speech is the real single-speaker clips of ``../shared/data/long`` (the example speech with
pauses where they are missing), looped to ``--minutes``.

    .venv/bin/python bench/stream.py --minutes 10
    .venv/bin/python bench/stream.py --minutes 10 --avatar obama.avatar --plot stream.png
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talkinghead.audio.decode import SAMPLE_RATE, decode  # noqa: E402
from talkinghead.io.live import FilePlayer  # noqa: E402
from talkinghead.pipeline.options import StreamConfig  # noqa: E402
from talkinghead.pipeline.animate import portrait_for  # noqa: E402
from talkinghead.pipeline.stream import Stream, StreamFrame, play, process_usage  # noqa: E402

LONG = ROOT.parent / "shared" / "data" / "long"


def speech(minutes: float) -> np.ndarray:
    """``minutes`` of continuous speech: the long real clips one after another (or the example), looped."""
    clips = sorted(LONG.glob("*.mp4")) or [ROOT / "examples" / "speech.wav"]
    pause = np.zeros(SAMPLE_RATE // 2, np.float32)
    parts = [np.concatenate([decode(c, SAMPLE_RATE), pause]) for c in clips]
    whole = np.concatenate(parts * int(np.ceil(minutes * 60 * SAMPLE_RATE / sum(map(len, parts)))))
    return whole[:int(minutes * 60 * SAMPLE_RATE)]


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


class Windows:
    """Per ``seconds`` of stream time: latency percentiles, late and dropped frames, CPU load, memory."""

    def __init__(self, seconds: float, deadline_ms: float) -> None:
        self.seconds, self.deadline = seconds, deadline_ms
        self.rows: list[dict] = []
        self._latency: list[float] = []
        self._dropped = 0
        self._cpu, self._wall = process_usage()[0], None

    def __call__(self, frame: StreamFrame) -> None:
        self._latency.append(frame.latency_ms)
        self._dropped += frame.dropped
        if self._wall is None:
            self._wall = frame.ready_at
        if (frame.index + 1) % round(self.seconds * 25) == 0:
            cpu, rss = process_usage()
            lat = np.asarray(self._latency)
            self.rows.append({"t_s": round((frame.index + 1) / 25), "frames": len(lat),
                              "late": int((lat > self.deadline).sum()), "dropped": self._dropped,
                              "p50_ms": round(float(np.percentile(lat, 50)), 1),
                              "p95_ms": round(float(np.percentile(lat, 95)), 1), "max_ms": round(float(lat.max()), 1),
                              "cpu_%": round(100 * (cpu - self._cpu) / max(frame.ready_at - self._wall, 1e-9), 1),
                              "rss_mb": round(rss, 1)})
            self._latency, self._dropped, self._cpu, self._wall = [], 0, cpu, frame.ready_at


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    return "\n".join(["  ".join(f"{k:>8}" for k in keys)] + ["  ".join(f"{r[k]:>8}" for k in keys) for r in rows])


def plot(rows: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["t_s"] / 60 for r in rows]
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    a.plot(t, [r["p50_ms"] for r in rows], label="p50"), a.plot(t, [r["p95_ms"] for r in rows], label="p95")
    a.axhline(250, color="grey", ls="--", lw=0.8), a.set_ylabel("latency (ms)"), a.legend(), a.set_title(title)
    a.set_ylim(0, max(300, 1.1 * max(r["max_ms"] for r in rows)))
    b.plot(t, [r["rss_mb"] for r in rows], color="C2"), b.set_ylabel("memory (MB)", color="C2"), b.set_xlabel("minutes")
    b.set_ylim(0, 1.2 * max(r["rss_mb"] for r in rows))
    b2 = b.twinx()
    b2.plot(t, [r["cpu_%"] for r in rows], color="C3"), b2.set_ylabel("CPU (% of one core)", color="C3")
    b2.set_ylim(0, max(100, 1.2 * max(r["cpu_%"] for r in rows)))
    fig.tight_layout(), fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--image", default=str(ROOT / "examples" / "portrait.jpg"))
    parser.add_argument("--avatar", help="stream with the avatar's renderer (its still, unless --image is given)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--chunk-ms", type=float, default=20.0)
    parser.add_argument("--window-s", type=float, default=60.0, help="stream seconds per table row")
    parser.add_argument("--plot", help="PNG of latency, CPU and memory over time")
    args = parser.parse_args()
    config = StreamConfig(size=args.size, avatar=args.avatar)
    stream = Stream(portrait_for(None if args.avatar and args.image == parser.get_default("image") else args.image,
                                    config), config)
    windows = Windows(args.window_s, config.deadline_ms)
    with tempfile.TemporaryDirectory() as tmp:
        source = FilePlayer(write_wav(Path(tmp) / "speech.wav", speech(args.minutes)), args.chunk_ms)
        try:
            summary = play(stream, source, on_frame=windows)
        finally:
            source.close()
    summary.update(renderer=config.renderer_name, size=args.size, chunk_ms=args.chunk_ms)
    print(table(windows.rows))
    print(json.dumps(summary))
    if args.plot:
        plot(windows.rows, args.plot, f"{config.renderer_name} {args.size}px, chunks of {args.chunk_ms:g} ms, "
                                      f"look-ahead {summary['lookahead_ms']:g} ms")


if __name__ == "__main__":
    main()
