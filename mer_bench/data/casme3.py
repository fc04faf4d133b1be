"""Reader of CAS(ME)^3 Part A: the v2 ME label workbook plus spNO.<n>/<letter>/color/<N>.jpg videos.

Layout of the release (Part A, RGB; the ``depth/`` folders beside ``color/`` are ignored):

- ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``, sheet ``label``, one row per micro-expression:
  ``Subject`` (``spNO.1``), ``Filename`` (the video: one letter ``a``..``m``), ``Onset``, ``Apex``,
  ``Offset`` (frame numbers of that video), ``AU``, ``Objective class`` (``I``..``VII``),
  ``emotion``; some copies add ``AU_Split``. Public code keeps the workbook in
  ``part_A/annotation/``, but copies also sit beside the data: it is searched for a few folder
  levels down (``SEARCH_DEPTH``).
- Frames: ``.../spNO.<n>/<letter>/color/<N>.jpg``, one folder per recorded video (thousands of
  frames: each letter is a whole stimulus video, not a clip). What lies above the ``spNO.<n>``
  folders is not documented (public code shows ``part_A/data/...`` and re-packed copies such as
  ``ME_A/``), so the folder holding them is searched for, breadth first, ``SEARCH_DEPTH`` levels
  down. Where several folders hold them, the one under a ``part_A`` folder wins (a whole release
  also has Part B); otherwise ``frames_dir`` names it. Letter folders without ``color/``
  (re-cropped copies) are read directly.
- A video holds several micro-expressions, so the letter repeats within a subject. The clip of a
  row is its ``Onset..Offset`` range of the video's frames, and its id is ``<letter>_<Onset>``
  (``b_166``): the onset as written separates clips of one video, whatever the row order, and it
  is how the later per-clip release names its folders (``spNO.10_a_116``). A corrected row keeps
  the id of its onset as written.

Known quirks of the public ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` (the copy MMNet ships and
MEB corrects; seen in the file as released, mer-bench issue 15), each handled here and pinned by a
test (tests/test_casme3_reader.py, and the twin writes them: mer_bench/synth/casme3.py):

- every frame number is stored as text ('355'): read as numbers (``native.as_int``);
- 'Others' is capitalised on 3 rows: normalised on loading, reported apart from the errata;
- besides ``label`` the workbook has ``Sheet1`` (433 rows of something else) and an empty
  ``Sheet3``: the ``label`` sheet is read by name;
- six rows are wrong as written (Excel row: Subject, Filename, Onset, Apex, Offset): 130 spNO.149
  d 112 83 358 (apex before onset), 710 spNO.214 c 5 5 3460 (a 3,456-frame clip), 751 spNO.216 d
  3647 2668 2694 (onset after apex and offset), 752 spNO.216 e 0 0 25 (frame 0 does not exist),
  798 spNO.40 e 1812 1824 0 and 800 spNO.40 e 2327 2363 0 (offset 0). MEB corrects all six
  (``MEB_V2_CORRECTIONS``); the reader returns them as written, the erratum corrects them, and
  only then are their frames looked up and the rows validated.
- the rows are ordered by subject as text (spNO.149 at row 130, spNO.40 at rows 798-800).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mer_bench.data.errata import APEX_RULES, ErratumRule
from mer_bench.data.native import (
    bounded_dirs,
    cell_text,
    excel_rows,
    frame_number,
    frames_in_range,
    given_file,
    one_workbook,
    optional_frame,
    prefixed_number,
    read_rows,
    read_sheets,
    rename_columns,
    require_dataset_dir,
    shown,
)
from mer_bench.data.sample import Frames, KeyFrames, Rows, Sample, normalise_label
from mer_bench.data.spec import DatasetSpec, lazy_twin
from mer_bench.errors import DataError

FPS = 30.0  # HTNet Table 1 (the reference's source for CAS(ME)^3's frame rate)
DATASET = "casme3"

LABEL_GLOB = "cas(me)3_part_A_ME_label_JpgIndex*.xlsx"
LABEL_FILE_V2 = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
LABEL_SHEET = "label"
SEARCH_DEPTH = 4  # folder levels below the dataset folder searched for the workbook and spNO.<n>
COLOR_DIR = "color"
SUBJECT_DIR = re.compile(r"^spNO\.(\d+)$")

COL_SUBJECT = "Subject"
COL_FILENAME = "Filename"
COL_ONSET = "Onset"
COL_APEX = "Apex"
COL_OFFSET = "Offset"
COL_AUS = "AU"
COL_OBJECTIVE = "Objective class"
COL_EMOTION = "emotion"
HEADER = (COL_SUBJECT, COL_FILENAME, COL_ONSET, COL_APEX, COL_OFFSET, COL_AUS, COL_OBJECTIVE,
          COL_EMOTION)
REQUIRED_COLUMNS = (COL_SUBJECT, COL_FILENAME, COL_ONSET, COL_APEX, COL_OFFSET, COL_EMOTION)

# The seven labels of the v2 file (3 rows write 'Others': loading normalises the case).
EMOTIONS = ("anger", "disgust", "fear", "happy", "sad", "surprise", "others")
OBJECTIVE_CLASSES = ("I", "II", "III", "IV", "V", "VI", "VII")
MISSING_APEX = "/"


def subject_id(number: int) -> str:
    """The subject id used in samples and folder names: 1 -> 'spNO.1'."""
    return f"spNO.{number}"


def clip_id(video: str, onset: int) -> str:
    """The id of the clip starting at frame ``onset`` of video ``video``: ('b', 166) -> 'b_166'."""
    return f"{video}_{onset}"


# --- finding the workbook and the frames ----------------------------------------------------------


def find_label_file(dataset_dir: Path, label_file: Path | None = None) -> Path:
    """The one v2-style label workbook under ``dataset_dir`` (or ``label_file``, relative to it)."""
    require_dataset_dir(dataset_dir, "CAS(ME)^3", "CAS(ME)3")
    if label_file is not None:
        return given_file(dataset_dir, label_file, "label_file")
    found = [path for _, folder in bounded_dirs(dataset_dir, SEARCH_DEPTH, skip=SUBJECT_DIR)
             for path in sorted(folder.glob(LABEL_GLOB))]
    return one_workbook(
        dataset_dir, found, several="label workbooks", setting="label_file",
        missing=f"no {LABEL_GLOB} within {SEARCH_DEPTH} folder levels; copy {LABEL_FILE_V2} "
                "from the CAS(ME)^3 release (part_A/annotation/) here")


def find_frames_root(dataset_dir: Path, frames_dir: Path | None = None) -> Path:
    """The folder holding the spNO.<n> subject folders (searched for unless ``frames_dir``)."""
    if frames_dir is not None:
        path = frames_dir if frames_dir.is_absolute() else dataset_dir / frames_dir
        if not path.is_dir():
            raise DataError(f"{path}: frames folder not found; check the frames_dir setting")
        return path
    roots = []
    for _, folder in bounded_dirs(dataset_dir, SEARCH_DEPTH, skip=SUBJECT_DIR):
        if SUBJECT_DIR.match(folder.name) and folder.parent not in roots:
            roots.append(folder.parent)
    if not roots:
        raise DataError(f"{dataset_dir}: no spNO.<n> subject folders within {SEARCH_DEPTH} folder "
                        "levels; unpack the Part A frames (part_A/data/...) here")
    if len(roots) > 1:
        # a whole release unpacked here may hold Part B's unlabelled videos too
        part_a = [r for r in roots if "part_a" in str(r.relative_to(dataset_dir)).lower()]
        roots = part_a if len(part_a) == 1 else roots
    if len(roots) > 1:
        names = ", ".join(str(p.relative_to(dataset_dir)) or "." for p in roots)
        raise DataError(f"{dataset_dir}: spNO.<n> folders in several places ({names}); keep one "
                        "copy or name it with frames_dir")
    return roots[0]


# --- reading --------------------------------------------------------------------------------------


def read_casme3(dataset_dir: Path, *, label_file: Path | None = None,
                frames_dir: Path | None = None) -> Rows:
    """The rows of a CAS(ME)^3 Part A folder as written, sorted by (subject, clip).

    A clip is a range of its video's frames, looked up after the errata (``Rows.frames_of``): the
    MEB corrections change onsets and offsets, and with them the frames a clip holds.
    """
    dataset_dir = Path(dataset_dir)
    label = find_label_file(dataset_dir, label_file)
    frames_root = find_frames_root(dataset_dir, frames_dir)
    table = _read_table(label)
    listings: dict[Path, dict[int, Path]] = {}

    def frames_of(sample: Sample) -> Frames:
        kf = sample.annotated
        return frames_in_range(_color_dir(frames_root / sample.subject / sample.extra["video"]),
                               "", kf.onset, kf.offset, sample.origin, listings)

    return read_rows(excel_rows(table),
                     lambda excel_row, row: _sample_from_row(row, label, excel_row, frames_root),
                     str(label), describe=_video_and_onset, frames_of=frames_of)


def _video_and_onset(sample: Sample) -> str:
    return f"{sample.subject} video {sample.extra['video']} onset {sample.annotated.onset}"


def _color_dir(video_dir: Path) -> Path:
    return video_dir / COLOR_DIR if (video_dir / COLOR_DIR).is_dir() else video_dir


def _read_table(label: Path) -> pd.DataFrame:
    """The ``label`` sheet (else the first), its columns renamed to the canonical names."""
    sheets = read_sheets(label, header=0, noun="workbook")
    sheet = LABEL_SHEET if LABEL_SHEET in sheets else next(iter(sheets))
    return rename_columns(sheets[sheet], HEADER, REQUIRED_COLUMNS, f"{label}: row 1",
                          header=f"the header of sheet {sheet!r}")


def _sample_from_row(row: pd.Series, label: Path, excel_row: int, frames_root: Path) -> Sample:
    where = f"{label}: row {excel_row}"
    subject = _subject_of(row[COL_SUBJECT], where)
    video = cell_text(row[COL_FILENAME])
    if not video:
        raise DataError(f"{where}: Filename is empty; write the video letter (e.g. b)")
    # the v2 file stores every frame number as text ('355'): as_int reads it as a number
    onset = frame_number(row[COL_ONSET], COL_ONSET, where)
    offset = frame_number(row[COL_OFFSET], COL_OFFSET, where)
    apex = optional_frame(row[COL_APEX], COL_APEX, where, missing={"", MISSING_APEX},
                          advice="write the frame number or '/'")
    emotion = _emotion_of(row[COL_EMOTION], where)
    objective = _objective_of(row.get(COL_OBJECTIVE), where)
    subject_dir = frames_root / subject
    if not subject_dir.is_dir():
        raise DataError(f"{where}: no folder {subject} in {frames_root}; restore it or delete "
                        "the row")
    if not (subject_dir / video).is_dir():
        raise DataError(f"{where}: no video folder {video} in {subject_dir}; restore it or fix "
                        "the Filename cell")
    return Sample(
        dataset=DATASET,
        subject=subject,
        clip=clip_id(video, onset),
        frame_paths=(),
        frame_numbers=(),  # looked up after the errata, from the corrected onset..offset
        fps=FPS,
        annotated=KeyFrames(onset=onset, apex=apex, offset=offset),
        emotion=emotion,
        action_units=cell_text(row.get(COL_AUS)),
        extra={"coding_file": label.name, "coding_row": str(excel_row), "video": video,
               "objective_class": objective},
        origin=where,
    )


def _subject_of(value: object, where: str) -> str:
    number = prefixed_number(value, r"spNO\.?\s*")
    if number is None or number < 0:
        raise DataError(f"{where}: Subject {shown(value)} is not a subject id; write e.g. spNO.1")
    return subject_id(number)


def _emotion_of(value: object, where: str) -> str:
    """The label as written (stripped); a label outside the seven is an error naming the row."""
    text = cell_text(value)
    if normalise_label(text) not in EMOTIONS:
        raise DataError(f"{where}: emotion {shown(value)} is not one of {', '.join(EMOTIONS)}; "
                        "fix the cell")
    return text


def _objective_of(value: object, where: str) -> str:
    text = cell_text(value).upper()
    if text and text not in OBJECTIVE_CLASSES:
        raise DataError(f"{where}: Objective class {shown(value)} is not one of "
                        f"{', '.join(OBJECTIVE_CLASSES)}; fix the cell")
    return text


# --- errata ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MebCorrection:
    """One row of the v2 label file that MEB corrects "based on the image folders".

    MEB (tvaranka/meb, meb/datasets/datasets.py, Casme3A) keys its corrections by pandas row index
    (= Excel row - 2): index 128 apex 160; 708 offset 34; 749 onset 2647; 750 onset and apex 1;
    796 offset 1845; 798 offset 2403. Here each is keyed by the row as written (subject, video,
    onset, apex, offset), so it applies to exactly that row wherever it sits, and never to a
    copy in which the row is already corrected or differs.
    """

    excel_row: int
    subject: str
    video: str
    written: KeyFrames
    corrected: KeyFrames
    what: str  # what is wrong with the row as written

    def matches(self, sample: Sample) -> bool:
        return (sample.subject, sample.extra.get("video"), sample.annotated) == (
            self.subject, self.video, self.written)


MEB_V2_CORRECTIONS: tuple[MebCorrection, ...] = (
    MebCorrection(130, "spNO.149", "d", KeyFrames(112, 83, 358), KeyFrames(112, 160, 358),
                  "apex before onset"),
    MebCorrection(710, "spNO.214", "c", KeyFrames(5, 5, 3460), KeyFrames(5, 5, 34),
                  "a 3,456-frame micro-expression"),
    MebCorrection(751, "spNO.216", "d", KeyFrames(3647, 2668, 2694), KeyFrames(2647, 2668, 2694),
                  "onset after apex and offset"),
    MebCorrection(752, "spNO.216", "e", KeyFrames(0, 0, 25), KeyFrames(1, 1, 25),
                  "frame 0 does not exist"),
    MebCorrection(798, "spNO.40", "e", KeyFrames(1812, 1824, 0), KeyFrames(1812, 1824, 1845),
                  "offset 0"),
    MebCorrection(800, "spNO.40", "e", KeyFrames(2327, 2363, 0), KeyFrames(2327, 2363, 2403),
                  "offset 0"),
)


def meb_v2_correction(sample: Sample) -> MebCorrection | None:
    """MEB's correction of ``sample``'s row as written, or None."""
    return next((c for c in MEB_V2_CORRECTIONS if c.matches(sample)), None)


def _meb_v2_fix(sample: Sample) -> tuple[Sample, str] | None:
    correction = meb_v2_correction(sample)
    if correction is None:
        return None
    was, now = correction.written, correction.corrected
    changes = ", ".join(f"{key} {getattr(was, key)} -> {getattr(now, key)}"
                        for key in ("onset", "apex", "offset")
                        if getattr(was, key) != getattr(now, key))
    row = sample.extra.get("coding_row", "?")
    moved = "" if row == str(correction.excel_row) else f", Excel row {correction.excel_row} of v2"
    return (dataclasses.replace(sample, annotated=now),
            f"{sample.extra.get('coding_file', LABEL_FILE_V2)} row {row}: {correction.what}; "
            f"{changes} (MEB{moved})")


MEB_V2_ROW_FIXES = ErratumRule(
    "casme3-meb-v2-rows",
    f"Six rows of {LABEL_FILE_V2} that MEB corrects from the image folders (Excel rows 130, 710, "
    "751, 752, 798, 800: an apex before its onset, a 3,456-frame clip, an onset after its offset, "
    "frame 0, two offsets 0), each matched by the row as written; the clip's frames then come "
    "from the corrected onset..offset.",
    _meb_v2_fix)

# MEB's rows first: their written key frames are what the other rules would misread.
ERRATA: tuple[ErratumRule, ...] = (MEB_V2_ROW_FIXES, *APEX_RULES)

# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "3"


CASME3 = DatasetSpec(
    name=DATASET,
    title="CAS(ME)^3 Part A",
    folder="CAS(ME)3",
    fps=FPS,
    read=read_casme3,
    write_twin=lazy_twin("mer_bench.synth.casme3:write_casme3_twin"),
    twin_version=TWIN_VERSION,
    face_crop=True,
    errata=ERRATA,
    key_columns=(COL_ONSET, COL_APEX, COL_OFFSET),
)
