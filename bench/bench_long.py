"""Peak memory and wall time of mastering a 60-minute DJ mix (issue: under 1 GB).

    .venv/bin/python bench/bench_long.py [--minutes 60] [--format wav|mp3]

Synthesises a long stereo mix (the example song, re-rendered with different seeds and levels,
streamed to disk block by block), masters it with the mixlab CLI in a child process and reads
the child's peak resident memory from the kernel (``ru_maxrss``). Not run in CI.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "long"


def _example():
    spec = importlib.util.spec_from_file_location("make_example_mix", ROOT / "examples" / "make_example_mix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_long_mix(path: Path, minutes: float, sample_rate: int = 44100) -> None:
    from mixlab.audio.io import AudioWriter

    example = _example()
    pieces = [example.render(60.0, sample_rate, seed=s) for s in range(4)]
    rng = np.random.default_rng(1)
    with AudioWriter(path, sample_rate=sample_rate, num_channels=2, bit_depth="24") as writer:
        for minute in range(int(minutes)):
            level = 10 ** (rng.uniform(-6.0, 0.0) / 20)
            writer.write(pieces[minute % 4] * level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--format", choices=("wav", "mp3", "flac"), default="wav")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / f"dj_mix_{int(args.minutes)}min.wav"
    if not source.exists():
        t = time.perf_counter()
        make_long_mix(source, args.minutes)
        print(f"made {source.name} in {time.perf_counter() - t:.1f} s")
    output = OUT / f"dj_mix_master.{args.format}"
    cmd = [str(ROOT / ".venv" / "bin" / "mixlab"), "master", str(source), "-o", str(output), "--target", "spotify", "--json"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        sys.exit(proc.returncode)
    result = json.loads(proc.stdout)["outputs"][0]
    report = {
        "minutes": args.minutes,
        "format": args.format,
        "wall_s": round(wall, 1),
        "x_realtime": round(args.minutes * 60 / wall, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "integrated_lufs": result["integrated_lufs"],
        "true_peak_dbtp": result["true_peak_dbtp"],
    }
    print(json.dumps(report, indent=2))
    (OUT / f"result_{args.format}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
