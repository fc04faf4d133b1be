"""Face detection rate of candidate detectors on the first frame of every clip of every twin.

    PYTHONPATH=. MER_BENCH_CACHE=DIR python benchmarks/face_detection_rates.py [--scale 1] [--seed 0]
        [--datasets samm,casme3] [--mediapipe-python PATH] [--detectors NAME,NAME]

Twins are generated (once) in MER_BENCH_CACHE. For each clip the true face position and identity
are found by matching the first frame against every rendered identity at its placement in the
scene, so a detection counts only if its largest box lies on the face. Rows:

- OpenCV's bundled frontal-face Haar cascades, on the plain grayscale frame, after global histogram
  equalisation (mer-bench before), after CLAHE, or plain then CLAHE where plain finds nothing
  (mer-bench's detector);
- dlib's HOG frontal detector (upsampled 0 or 1 times), if ``dlib`` imports (``pip install dlib-bin``);
- MediaPipe's short- and full-range face detectors, with ``--mediapipe-python``: an interpreter
  with mediapipe 0.10.21, the last release that ships the models in its wheel (it needs numpy < 2,
  so it cannot share this project's environment).

Prints misses per dataset, per skin-lightness band of the identities (the renderer draws skin
lightness uniformly in 0..1; 0 is the darkest), ms per frame, and the chosen detector's misses.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from mer_bench.data.spec import DATASETS
from mer_bench.datasource import DataSource, load_samples
from mer_bench.inputs.face_crop import largest_detection
from mer_bench.inputs.face_detect import DEFAULT_DETECTOR, HaarDetector, detect_faces
from mer_bench.synth import writer
from mer_bench.synth.face import render_face
from mer_bench.synth.plan import STREAM_FACE, stream

SIZE = writer.RENDER_SIZE
SCENE_MODULES = {"samm": "samm", "casme3": "casme3", "4dme": "fourdme", "casme-sq": "casme_sq"}
BANDS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0))

Detect = Callable[[np.ndarray], list[tuple[int, int, int, int]]]


@dataclass(frozen=True)
class Clip:
    dataset: str
    sample_id: str
    path: str
    cropped: bool  # the dataset is face-cropped by mer-bench
    identity: int  # the renderer's subject number
    lightness: float
    top: int
    left: int


def identities(seed: int, largest: int) -> dict[int, tuple[np.ndarray, float]]:
    """Per subject number: the neutral grey face and its skin lightness (the identity's first draw)."""
    faces = {}
    for subject in range(1, largest + 1):
        face = render_face(stream(seed, STREAM_FACE, subject), SIZE).image
        grey = cv2.cvtColor(np.clip(face, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
        faces[subject] = (grey.astype(np.float32), float(stream(seed, STREAM_FACE, subject).uniform(0, 1)))
    return faces


def locate_truth(dataset: str, frame: np.ndarray, seed: int,
                 faces: dict[int, tuple[np.ndarray, float]]) -> tuple[int, int, int, float]:
    """(identity, top, left, mean abs error) of the rendered face that best matches the frame."""
    scene = None
    if dataset in SCENE_MODULES:
        module = __import__(f"mer_bench.synth.{SCENE_MODULES[dataset]}", fromlist=["SCENE"])
        scene = module.SCENE
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    best = (0, 0, 0, np.inf)
    for subject, (face, _) in faces.items():
        top, left = writer._placement(scene, seed, subject)  # where the twin writer put the face
        window = grey[top:top + SIZE, left:left + SIZE]
        if window.shape == face.shape:
            error = float(np.abs(window - face).mean())
            if error < best[3]:
                best = (subject, top, left, error)
    return best


def on_face(clip: Clip, box: tuple[int, int, int, int] | None) -> bool:
    if box is None:
        return False
    x, y, width, height = box
    dx = x + width / 2 - (clip.left + SIZE / 2)
    dy = y + height / 2 - (clip.top + SIZE / 2)
    return abs(dx) < 0.25 * SIZE and abs(dy) < 0.3 * SIZE and 0.35 * SIZE < max(width, height) < 1.3 * SIZE


def haar(detector: HaarDetector) -> Detect:
    return lambda frame: detect_faces(frame, detector=detector)


def dlib_detectors() -> dict[str, Detect]:
    try:
        import dlib
    except ImportError:
        print("dlib is not installed (pip install dlib-bin): no dlib rows")
        return {}
    hog = dlib.get_frontal_face_detector()

    def run(upsample: int) -> Detect:
        def detect(frame: np.ndarray) -> list[tuple[int, int, int, int]]:
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            return [(r.left(), r.top(), r.width(), r.height()) for r in hog(grey, upsample)]
        return detect

    return {f"dlib-{dlib.__version__}-hog-upsample{u}": run(u) for u in (0, 1)}


MEDIAPIPE_CHILD = """
import json, sys, time, cv2, mediapipe as mp
paths = json.load(open(sys.argv[1])); out = {}
for model, name in ((0, "short"), (1, "full")):
    detector = mp.solutions.face_detection.FaceDetection(model_selection=model, min_detection_confidence=0.5)
    frames = [cv2.imread(p) for p in paths]; boxes = []; started = time.perf_counter()
    for frame in frames:
        h, w = frame.shape[:2]
        found = detector.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).detections or []
        boxes.append([(round(b.xmin * w), round(b.ymin * h), round(b.width * w), round(b.height * h))
                      for b in (d.location_data.relative_bounding_box for d in found)])
    out[f"mediapipe-{mp.__version__}-{name}-range"] = [boxes, (time.perf_counter() - started) / len(frames)]
json.dump(out, open(sys.argv[2], "w"))
"""


def mediapipe_results(python: str, clips: list[Clip]) -> dict[str, tuple[list, float]]:
    with tempfile.TemporaryDirectory() as folder:
        paths, out = f"{folder}/paths.json", f"{folder}/out.json"
        json.dump([clip.path for clip in clips], open(paths, "w"))
        subprocess.run([python, "-c", MEDIAPIPE_CHILD, paths, out], check=True,
                       stderr=subprocess.DEVNULL)
        return {name: (boxes, seconds) for name, (boxes, seconds) in json.load(open(out)).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", default=",".join(DATASETS.names()))
    parser.add_argument("--mediapipe-python", default=None)
    parser.add_argument("--detectors", default=None,
                        help="comma-separated detector names (default: every candidate)")
    args = parser.parse_args()
    source = DataSource(None, args.scale, args.seed)
    faces = identities(args.seed, 130)
    clips: list[Clip] = []
    frames: list[np.ndarray] = []
    for name in args.datasets.split(","):
        spec = DATASETS.get(name)
        for sample in load_samples(spec, source):
            frame = cv2.imread(str(sample.frame_paths[0]))
            subject, top, left, error = locate_truth(name, frame, args.seed, faces)
            assert error < 8, f"{sample.sample_id}: no rendered identity matches its first frame"
            clips.append(Clip(name, sample.sample_id, str(sample.frame_paths[0]), spec.face_crop,
                              subject, faces[subject][1], top, left))
            frames.append(frame)

    candidates: dict[str, Detect] = {}
    for cascade in ("default", "alt", "alt2", "alt_tree"):
        preparations = [("plain",), ("equalise",), ("clahe",), ("plain", "clahe")]
        for tried in preparations if cascade == "default" else [("plain",), ("equalise",)]:
            detector = HaarDetector(f"haarcascade_frontalface_{cascade}.xml", tried)
            candidates[detector.name] = haar(detector)
    candidates.update(dlib_detectors())
    if args.detectors:
        candidates = {name: candidates[name] for name in args.detectors.split(",")}
    results: dict[str, tuple[list, float]] = {}
    for name, detect in candidates.items():
        started = time.perf_counter()
        boxes = [detect(frame) for frame in frames]
        results[name] = (boxes, (time.perf_counter() - started) / len(frames))
    if args.mediapipe_python:
        results.update(mediapipe_results(args.mediapipe_python, clips))

    datasets = list(dict.fromkeys(clip.dataset for clip in clips))
    hits = {name: [on_face(c, largest_detection(b)) for c, b in zip(clips, boxes)]
            for name, (boxes, _) in results.items()}
    cropped = [c.cropped for c in clips]
    print(f"misses (no box on the face) on the first frame of every clip; twins at scale "
          f"{args.scale:g}, seed {args.seed}; * = cropped by mer-bench")
    header = ["detector", "ms/frame", *(f"{d}{'*' if DATASETS.get(d).face_crop else ''}"
                                       f" ({sum(c.dataset == d for c in clips)})" for d in datasets),
              f"cropped ({sum(cropped)})", f"all ({len(clips)})"]
    rows = []
    for name, (_, seconds) in results.items():
        found = hits[name]
        per = [sum(not f for f, c in zip(found, clips) if c.dataset == d) for d in datasets]
        rows.append([name, f"{1000 * seconds:.1f}", *per,
                     sum(not f for f, k in zip(found, cropped) if k), sum(not f for f in found)])
    print(_table(header, rows))
    print("\nmisses per skin-lightness band of the identity (0 = darkest), every twin:")
    band_header = ["detector", *(f"{lo:.1f}-{hi:.1f} ({sum(lo <= c.lightness < hi or (hi == 1 and c.lightness == 1) for c in clips)})"
                                 for lo, hi in BANDS)]
    band_rows = [[name, *(sum(not f for f, c in zip(found, clips)
                              if lo <= c.lightness < hi or (hi == 1 and c.lightness == 1))
                          for lo, hi in BANDS)] for name, found in hits.items()]
    print(_table(band_header, band_rows))
    chosen = DEFAULT_DETECTOR.name
    missed = [c for c, f in zip(clips, hits[chosen]) if not f]
    print(f"\n{chosen} (mer-bench's detector) misses {len(missed)} clips"
          + "".join(f"\n  {c.sample_id} (identity {c.identity}, lightness {c.lightness:.2f})" for c in missed))
    legacy = HaarDetector(preparations=("equalise",)).name
    if legacy not in hits:
        return
    missed = [c for c, f in zip(clips, hits[legacy]) if not f and c.cropped]
    subjects = sorted({(c.dataset, c.identity, round(c.lightness, 2)) for c in missed})
    print(f"\n{legacy} (before) misses {len(missed)} clips of cropped twins, identities "
          + ", ".join(f"{d}:{i} (lightness {light})" for d, i, light in subjects))


def _table(header: list[str], rows: list[list[object]]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=header)


if __name__ == "__main__":
    sys.exit(main())
