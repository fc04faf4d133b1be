"""Reader of the native SMIC layout: SMIC_all_cropped/<camera>/sN/micro/<emotion>/<clip>/ frames.

SMIC (non-E) ships no annotation spreadsheet: the emotion is the folder a clip sits in, and a clip
folder holds the micro-expression's frames, so its first and last frame are the onset and offset.
No apex is annotated; the reader leaves it None on purpose and the spec names the apex finder as
the rule that fills it (``mer_bench.missing_apex``), for every strategy and side alike.

A self-made annotation sheet is honoured when present (MEB keeps one as ``smic.xlsx`` with
``subject, material, emotion, onset, offset`` columns): ``smic-<camera>.xlsx`` (``smic.xlsx`` is
taken as the HS sheet), with columns subject, filename (or material), onset, offset and optionally
emotion. It should then cover every clip folder, and every row name one: a clip without a row, or
a row without a clip, is excluded with its reason.

A gap in a clip's frame numbers is not a reading error (``mer-bench doctor`` reports it); a row
whose onset or offset from the sheet falls in a gap or outside the clip is excluded.

Three cameras share one reader: HS (100 fps, ``reg_image036237.bmp``) and VIS / NIR (25 fps,
``reg_06387.bmp``); each is its own dataset (``smic-hs``, ``smic-vis``, ``smic-nir``).

Known quirks, each pinned by a test (tests/test_smic_reader.py, tests/test_sample_list.py):

- many users hold SMIC-HS only (the part MEGC2019 uses): a camera whose folder is not there is
  absent, like any dataset, not broken (``DatasetSpec.markers``; mer-bench issue 15);
- the release names subject folders ``s1`` and clips ``s1_ne_01`` (``HS/s1/micro/negative/
  s1_ne_01/``), while the MEGC2019 lists (``combined_3class_gt.csv`` and ``-2.csv``) write subject
  ``s01`` and clip ``s01_ne_01``: sample subjects are written ``s01`` as the lists do, clips keep
  their folder names, and ``data.sample_list`` compares numbers by value (s01 = s1).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from mer_bench.data.native import (
    cell_text,
    excel_rows,
    frame_number,
    given_file,
    numbered_frames,
    prefixed_number,
    read_coding_sheet,
    require_dataset_dir,
    shown,
)
from mer_bench.data.sample import Excluded, KeyFrames, Rows, Sample, normalise_label
from mer_bench.data.spec import DatasetSpec, lazy_twin
from mer_bench.errors import DataError

Camera = Literal["HS", "VIS", "NIR"]
FPS: dict[str, float] = {"HS": 100.0, "VIS": 25.0, "NIR": 25.0}
CROPPED_FOLDER = "SMIC_all_cropped"
MICRO_FOLDER = "micro"  # beside it, non_micro/ clips are not micro-expressions and are not read
EMOTIONS = ("negative", "positive", "surprise")

# HS frames are reg_image<N>.bmp, VIS / NIR frames reg_<N>.bmp (zero-padded; sorted numerically).
FRAME_PATTERN = re.compile(r"^reg_(?:image)?(?P<number>\d+)\.(?:bmp|jpg|png)$", re.IGNORECASE)
FRAME_NAMING = "reg_image<N>.bmp / reg_<N>.bmp"
SUBJECT_FOLDER = re.compile(r"^s(\d+)$", re.IGNORECASE)

# the optional annotation sheet
SHEET_SUBJECT, SHEET_CLIP, SHEET_ONSET, SHEET_OFFSET, SHEET_EMOTION = (
    "subject", "filename", "onset", "offset", "emotion")
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    SHEET_SUBJECT: ("subject",),
    SHEET_CLIP: ("filename", "material", "clip"),
    SHEET_ONSET: ("onset", "onsetframe"),
    SHEET_OFFSET: ("offset", "offsetframe"),
    SHEET_EMOTION: ("emotion",),
}
MEB_SHEET = "smic.xlsx"  # MEB's self-made sheet, for SMIC-HS


def dataset_name(camera: str) -> str:
    return f"smic-{camera.lower()}"


def subject_id(number: int) -> str:
    """The subject id of samples, as the MEGC2019 ground truth writes SMIC subjects: 1 -> 's01'."""
    return f"s{number:02d}"


def read_smic(dataset_dir: Path, camera: Camera = "HS", *,
              annotation_file: Path | None = None) -> Rows:
    """The clips of one SMIC camera, sorted by (subject, clip); frames sorted by frame number.

    A clip folder without frames, or a sheet row that does not match a clip, is excluded with
    its reason; the camera's other clips are read.
    """
    dataset_dir = Path(dataset_dir)
    if camera not in FPS:
        raise DataError(f"{dataset_dir}: unknown SMIC camera {camera!r}; use HS, VIS or NIR")
    root = _camera_root(dataset_dir, camera)
    clips = _clip_folders(root)
    sheet = _find_sheet(dataset_dir, camera, annotation_file)
    excluded: list[Excluded] = []
    if sheet is not None:
        keyframes, excluded = _sheet_keyframes(sheet, clips)
    samples = []
    for (subject, clip), (emotion, clip_dir) in clips.items():
        sample_id = f"{dataset_name(camera)}/{subject}/{clip}"
        try:
            numbers, paths = numbered_frames(clip_dir, FRAME_PATTERN, f"SMIC-{camera}",
                                             FRAME_NAMING)
        except DataError as error:
            excluded.append(Excluded(str(error), sample_id))
            continue
        extra = {"camera": camera, "clip_folder": str(clip_dir.relative_to(dataset_dir))}
        origin = str(clip_dir)
        if sheet is None:
            onset, offset = numbers[0], numbers[-1]
            extra["keyframes_from"] = "folder"
        elif (subject, clip) in keyframes:
            onset, offset, excel_row = keyframes[(subject, clip)]
            extra.update(keyframes_from=sheet.name, annotation_row=str(excel_row))
            origin = f"{sheet}: row {excel_row}"
        else:
            excluded.append(Excluded(f"{sheet}: no row for clip {subject}/{clip}; add the row or "
                                     "remove the sheet to use each folder's first and last "
                                     "frame", sample_id))
            continue
        samples.append(Sample(
            dataset=dataset_name(camera),
            subject=subject,
            clip=clip,
            frame_paths=paths,
            frame_numbers=numbers,
            fps=FPS[camera],
            annotated=KeyFrames(onset=onset, apex=None, offset=offset),
            emotion=emotion,
            extra=extra,
            origin=origin,
        ))
    return Rows(sorted(samples, key=lambda s: (s.subject, s.clip)), excluded)


def _camera_root(dataset_dir: Path, camera: str) -> Path:
    require_dataset_dir(dataset_dir, "SMIC", "SMIC")
    root = dataset_dir / CROPPED_FOLDER / camera
    if root.is_dir():
        return root
    if (dataset_dir / camera).is_dir():
        raise DataError(f"{dataset_dir}: only the uncropped {camera}/ folder is here; the reader "
                        f"reads the cropped release: unpack {CROPPED_FOLDER}/{camera}/ here")
    raise DataError(f"{dataset_dir / CROPPED_FOLDER / camera}: folder not found; unpack the "
                    f"SMIC {camera} frames as {CROPPED_FOLDER}/{camera}/sN/micro/<emotion>/<clip>/")


def _clip_folders(root: Path) -> dict[tuple[str, str], tuple[str, Path]]:
    """(subject id, clip name) -> (emotion as written, clip folder), every clip under micro/."""
    clips: dict[tuple[str, str], tuple[str, Path]] = {}
    subject_dirs: dict[str, Path] = {}
    for subject_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        match = SUBJECT_FOLDER.match(subject_dir.name)
        if not match:
            raise DataError(f"{subject_dir}: not a subject folder (s1, s2, ...); "
                            f"move it out of {root}")
        subject = subject_id(int(match.group(1)))
        if subject in subject_dirs:
            raise DataError(f"{subject_dir} and {subject_dirs[subject]} are both subject "
                            f"{subject}; merge or remove one")
        subject_dirs[subject] = subject_dir
        micro = subject_dir / MICRO_FOLDER
        if not micro.is_dir():
            continue  # recorded subjects without a micro-expression have no micro/ folder
        for emotion_dir in sorted(p for p in micro.iterdir() if p.is_dir()):
            emotion = emotion_dir.name
            if normalise_label(emotion) not in EMOTIONS:
                raise DataError(f"{emotion_dir}: {emotion!r} is not a SMIC emotion folder "
                                f"({', '.join(EMOTIONS)}); rename or remove it")
            for clip_dir in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
                key = (subject, clip_dir.name)
                if key in clips:
                    raise DataError(f"{clip_dir} repeats clip {clip_dir.name} of "
                                    f"{clips[key][1]}; one clip has one emotion: remove one")
                clips[key] = (emotion, clip_dir)
    if not clips:
        raise DataError(f"{root}: no clip folders under sN/{MICRO_FOLDER}/<emotion>/; "
                        "unpack the SMIC frames here")
    return clips


def _find_sheet(dataset_dir: Path, camera: str, annotation_file: Path | None) -> Path | None:
    if annotation_file is not None:
        return given_file(dataset_dir, annotation_file, "annotation_file")
    names = [f"{dataset_name(camera)}.xlsx"] + ([MEB_SHEET] if camera == "HS" else [])
    found = [dataset_dir / name for name in names if (dataset_dir / name).is_file()]
    if len(found) > 1:
        raise DataError(f"{dataset_dir}: both {found[0].name} and {found[1].name} annotate SMIC "
                        f"{camera}; keep one of them")
    return found[0] if found else None


def _sheet_keyframes(sheet: Path, clips: dict[tuple[str, str], tuple[str, Path]]
                     ) -> tuple[dict[tuple[str, str], tuple[int, int, int]], list[Excluded]]:
    """(subject, clip) -> (onset, offset, Excel row) from the sheet, and the rows left out."""
    table = read_coding_sheet(sheet, SHEET_COLUMNS, frozenset({SHEET_EMOTION}))
    rows: dict[tuple[str, str], tuple[int, int, int]] = {}
    excluded: list[Excluded] = []
    for excel_row, row in excel_rows(table):
        try:
            key, keyframes = _sheet_row(row, f"{sheet}: row {excel_row}", clips, rows)
        except DataError as error:
            excluded.append(Excluded(str(error)))
            continue
        rows[key] = (*keyframes, excel_row)
    return rows, excluded


def _sheet_row(row, where: str, clips: dict[tuple[str, str], tuple[str, Path]],
               rows: dict[tuple[str, str], tuple[int, int, int]]
               ) -> tuple[tuple[str, str], tuple[int, int]]:
    subject = _sheet_subject(row[SHEET_SUBJECT], where)
    clip = cell_text(row[SHEET_CLIP])
    if (subject, clip) not in clips:
        raise DataError(f"{where}: no clip folder {subject}/{clip} under micro/; "
                        "fix the row or restore the folder")
    if (subject, clip) in rows:
        raise DataError(f"{where}: {subject}/{clip} repeats row {rows[(subject, clip)][2]}; "
                        "delete one of the two rows")
    onset, offset = (frame_number(row[c], c, where) for c in (SHEET_ONSET, SHEET_OFFSET))
    folder_emotion = clips[(subject, clip)][0]
    written = normalise_label(cell_text(row.get(SHEET_EMOTION)))
    if written and written != normalise_label(folder_emotion):
        raise DataError(f"{where}: emotion {written!r} disagrees with the clip's folder "
                        f"{folder_emotion!r}; fix the cell or move the clip")
    return (subject, clip), (onset, offset)


def _sheet_subject(value: object, where: str) -> str:
    number = prefixed_number(value, "s")
    if number is None or number < 1:
        raise DataError(f"{where}: subject {shown(value)} is not a subject; write e.g. 1 or s1")
    return subject_id(number)


def read_smic_hs(dataset_dir: Path) -> Rows:
    return read_smic(dataset_dir, "HS")


def read_smic_vis(dataset_dir: Path) -> Rows:
    return read_smic(dataset_dir, "VIS")


def read_smic_nir(dataset_dir: Path) -> Rows:
    return read_smic(dataset_dir, "NIR")


# Bumped whenever the twin generator's output changes, so cached twins are regenerated. One twin
# folder holds all three cameras, so the three specs share the version and the writer.
TWIN_VERSION = "4"
_WRITE_TWIN = lazy_twin("mer_bench.synth.smic:write_smic_twin")


def _spec(camera: Camera, read) -> DatasetSpec:
    return DatasetSpec(
        name=dataset_name(camera),
        title=f"SMIC-{camera}",
        folder="SMIC",
        fps=FPS[camera],
        read=read,
        write_twin=_WRITE_TWIN,
        twin_version=TWIN_VERSION,
        errata=(),
        missing_apex="apex-finder",  # SMIC codes no apex: found in the frames, not a midpoint
        # a camera is present where its frames are: many users hold SMIC-HS only
        markers=(f"{CROPPED_FOLDER}/{camera}", camera),
    )


SMIC_HS = _spec("HS", read_smic_hs)
SMIC_VIS = _spec("VIS", read_smic_vis)
SMIC_NIR = _spec("NIR", read_smic_nir)
