"""Face detector cost per frame, as ratios against the Haar cascade mer-bench used before, same run.

Run with `make bench` (or `pytest benchmarks/test_face_detector_speed.py --benchmark-only -s` to see
the table). Frames: the first frame of every clip of a SAMM twin (384 x 208, the face 128 px), and
twelve of them enlarged to SAMM's real 2040 x 1088 (``detect_faces`` shrinks them to 640 px wide
first, as it does for real SAMM frames). Rows:

- ``opencv-haar-frontalface-default:equalise``: the detector before (global histogram equalisation);
- ``opencv-haar-frontalface-default:plain-then-clahe``: mer-bench's detector (the plain grayscale
  frame; CLAHE only where that finds nothing, so on the twins its cost is the plain row's);
- the same cascade on the plain frame only and after CLAHE only, and the ``alt2`` cascade;
- dlib's HOG frontal detector (upsampled 0 and 1 times) where ``dlib`` imports (``pip install
  dlib-bin``; not a mer-bench dependency). Its rows are absent, and say so, otherwise.

Detection rates of the same detectors: ``benchmarks/face_detection_rates.py``.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
import pytest

from mer_bench.inputs.face_detect import DEFAULT_DETECTOR, HaarDetector, detect_faces
from timing import best_seconds

BEFORE = HaarDetector(preparations=("equalise",))
Detect = Callable[[np.ndarray], object]


@pytest.fixture(scope="module")
def samm_first_frames(tmp_path_factory) -> list[np.ndarray]:
    from mer_bench.data.samm import read_samm
    from mer_bench.synth import write_twin

    directory = tmp_path_factory.mktemp("bench-data") / "SAMM"
    write_twin("samm", directory, scale=0.15, seed=0)
    return [cv2.imread(str(sample.frame_paths[0])) for sample in read_samm(directory).samples]


@pytest.fixture(scope="module")
def samm_size_frames(samm_first_frames) -> list[np.ndarray]:
    return [cv2.resize(frame, (2040, 1088), interpolation=cv2.INTER_CUBIC) for frame in samm_first_frames[:12]]


def detectors() -> dict[str, Detect]:
    """Every candidate as a function of a BGR frame; the first is the reference (before)."""
    haar = [BEFORE, DEFAULT_DETECTOR, HaarDetector(preparations=("plain",)),
            HaarDetector(preparations=("clahe",)), HaarDetector("haarcascade_frontalface_alt2.xml", ("plain",))]
    rows: dict[str, Detect] = {h.name: (lambda frame, h=h: detect_faces(frame, detector=h)) for h in haar}
    try:
        import dlib
    except ImportError:
        return rows
    hog = dlib.get_frontal_face_detector()
    for upsample in (0, 1):
        def run(frame: np.ndarray, upsample: int = upsample) -> object:
            # the same 640 px detection image detect_faces gives the Haar rows
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            scale = min(1.0, 640 / max(gray.shape))
            if scale < 1.0:
                gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            return hog(gray, upsample)
        rows[f"dlib-{dlib.__version__}-hog-upsample{upsample}"] = run
    return rows


def cost_ratios(frames: list[np.ndarray], rounds: int = 5) -> dict[str, tuple[float, float]]:
    """Per detector: (ms per frame, median over rounds of its time / the reference's time).

    Each round times the reference and every other row back to back, so drift from other processes
    on shared cores cancels in the ratio. The reference's own row (about 1) shows the noise left.
    """
    rows = detectors()
    reference = next(iter(rows.values()))
    per_round: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    for detect in rows.values():
        [detect(frame) for frame in frames[:2]]  # load cascades / models outside the timing
    for _ in range(rounds):
        for name, detect in rows.items():
            base = best_seconds(lambda: [reference(frame) for frame in frames], 2)
            own = best_seconds(lambda d=detect: [d(frame) for frame in frames], 2)
            per_round[name].append((own, own / base))
    return {name: (1000 * float(np.median([t for t, _ in pairs])) / len(frames),
                   float(np.median([r for _, r in pairs]))) for name, pairs in per_round.items()}


@pytest.mark.benchmark(group="face-detect")
@pytest.mark.parametrize("size", ["twin 384x208", "2040x1088"])
def test_face_detector_cost_ratios(benchmark, request, size):
    """Prints ms per frame and the ratio to the detector before; stored in extra_info."""
    frames = request.getfixturevalue("samm_first_frames" if size.startswith("twin") else "samm_size_frames")
    table = cost_ratios(frames)
    lines = [f"frames {size}, {len(frames)} first frames; ratio to {BEFORE.name}"]
    lines += [f"  {name:<52}{ms:>9.2f} ms/frame{ratio:>8.2f} x" for name, (ms, ratio) in table.items()]
    if not any(name.startswith("dlib") for name in table):
        lines.append("  (dlib is not installed: pip install dlib-bin to add its rows)")
    print("\n" + "\n".join(lines))
    benchmark.extra_info.update({name: {"ms_per_frame": ms, "ratio": ratio} for name, (ms, ratio) in table.items()})
    benchmark.pedantic(lambda: [detect_faces(frame) for frame in frames], rounds=3, iterations=1)
    # about the cost of the detector before (the bound leaves room for noise on shared cores)
    assert table[DEFAULT_DETECTOR.name][1] < 1.5
