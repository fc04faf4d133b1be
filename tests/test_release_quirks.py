"""The annotation files as released load without the user editing anything (mer-bench issue 15),
checked at full scale on twins that carry the public files' quirks (frames are placeholders):

- CAS(ME)^3 Part A with the v2 label workbook: usable, MEB's six corrections listed, every
  protocol at its published counts;
- SMIC with the HS camera only: VIS and NIR absent, the HS protocols and the composite checked;
- MEGC2019: the 442-row list and the official 441-row answer file (blank ',,,' lines, SAMM
  032_3_1 absent, SMIC named s01 / s01_ne_01) each give the composite its published counts;
- on real data a failed count check, or with --strict an excluded row, stops a run before training.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from mer_bench.data.casme3 import LABEL_FILE_V2
from mer_bench.data.doctor import Diagnosis, diagnose
from mer_bench.data.sample_list import MEGC_ANSWER_FILE, MEGC_LIST
from mer_bench.datasource import resolve_data_source
from mer_bench.errors import DataError
from mer_bench.protocol_check import check_before_run, check_protocol
from mer_bench.protocols import get_protocol, protocol_registry
from mer_bench.synth.casme2 import write_casme2_twin
from mer_bench.synth.casme3 import LABEL_PATH, write_casme3_twin
from mer_bench.synth.samm import write_samm_twin
from mer_bench.synth.smic import write_smic_twin
from twin_trees import placeholder_frames, write_megc_lists

# The six rows as the v2 workbook writes them (Excel row: cells; mer-bench issue 15).
V2_ROWS = {
    130: ["spNO.149", "d", "112", "83", "358", "T28+14", "VII", "fear"],
    710: ["spNO.214", "c", "5", "5", "3460", "17+4", "VII", "disgust"],
    751: ["spNO.216", "d", "3647", "2668", "2694", 38, "VII", "others"],
    752: ["spNO.216", "e", "0", "0", "25", 14, "VII", "others"],
    798: ["spNO.40", "e", "1812", "1824", "0", 18, "VII", "others"],
    800: ["spNO.40", "e", "2327", "2363", "0", 14, "VII", "others"],
}
DATASETS = ("CAS(ME)3", "CASME2", "SAMM", "SMIC")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Full-scale twins of CAS(ME)^3, CASME II, SAMM and SMIC-HS alone, both MEGC2019 lists."""
    root = tmp_path_factory.mktemp("released")
    with placeholder_frames():
        write_casme3_twin(root / "CAS(ME)3", scale=1.0, seed=0)
        write_casme2_twin(root / "CASME2", scale=1.0, seed=0)
        write_samm_twin(root / "SAMM", scale=1.0, seed=0)
        write_smic_twin(root / "SMIC", scale=1.0, seed=0)
    for camera in ("VIS", "NIR"):  # many users hold SMIC-HS only
        shutil.rmtree(root / "SMIC" / "SMIC_all_cropped" / camera)
    write_megc_lists(root, MEGC_LIST, MEGC_ANSWER_FILE)
    return root


@pytest.fixture(scope="module")
def doctor(released: Path) -> Diagnosis:
    return diagnose(released)


def linked_root(released: Path, target: Path, lists: tuple[str, ...]) -> Path:
    """A data root sharing ``released``'s dataset folders, with only the MEGC2019 ``lists``."""
    target.mkdir()
    for name in DATASETS:
        (target / name).symlink_to(released / name, target_is_directory=True)
    (target / "MEGC2019").mkdir()
    for name in lists:
        shutil.copy(released / "MEGC2019" / name, target / "MEGC2019" / name)
    return target


def test_the_twin_writes_the_v2_workbook_as_released(released: Path) -> None:
    path = released / "CAS(ME)3" / LABEL_PATH
    assert path.name == LABEL_FILE_V2
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Sheet1", "label", "Sheet3"]
    assert workbook["Sheet1"].max_row == 434  # a header and 433 rows of something else
    assert workbook["Sheet3"].max_row == 1 and workbook["Sheet3"]["A1"].value is None
    label = workbook["label"]
    assert label.max_row == 861  # the header and 860 rows
    for excel_row, cells in V2_ROWS.items():
        assert [c.value for c in label[excel_row]] == cells, excel_row
    frames = [c.value for row in label.iter_rows(min_row=2, min_col=3, max_col=5) for c in row]
    assert all(isinstance(v, str) and v.isdigit() for v in frames)  # text-typed, as released
    emotions = pd.read_excel(path, sheet_name="label")["emotion"]
    assert (emotions == "Others").sum() == 3


def test_casme3_is_usable_with_the_six_corrections_listed(doctor: Diagnosis) -> None:
    assert doctor.ok
    out = doctor.render()
    row = next(line for line in out.splitlines() if line.startswith("casme3 "))
    assert "usable" in row and " 860 " in row and " 94 " in row
    fixes = [line for line in out.splitlines() if "casme3-meb-v2-rows" not in line
             and f"{LABEL_FILE_V2} row " in line]
    assert sorted(int(line.split(" row ")[1].split(":")[0]) for line in fixes) == sorted(V2_ROWS)
    assert "casme3-meb-v2-rows: 6 samples" in out
    assert "CAS(ME)^3 Part A: labels normalised (case and spaces; not errata)" in out


@pytest.mark.parametrize("protocol", [p for p in protocol_registry().names("casme3-*")])
def test_casme3_protocols_give_the_published_counts(released: Path, protocol: str) -> None:
    check = check_protocol(get_protocol(protocol), resolve_data_source(released))
    assert check.status == "matches" and check.n_excluded == 0, check.problems


def test_smic_hs_alone_is_usable_and_vis_nir_absent(cli, released: Path,
                                                    doctor: Diagnosis) -> None:
    assert doctor.ok
    out = doctor.render()
    status = {line.split()[0]: line for line in out.splitlines() if line.startswith("smic-")}
    assert "usable" in status["smic-hs"]
    assert "absent" in status["smic-vis"] and "absent" in status["smic-nir"]
    code, out, err = cli("protocols", "--check", "--data-root", released)
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isalnum()}
    assert rows["smic-hs-3class"].endswith("matches")
    assert "data absent: no SMIC/SMIC_all_cropped/VIS/" in rows["smic-vis-3class"]
    assert " 442 " in rows["megc2019-3class"] and rows["megc2019-3class"].endswith("matches")


@pytest.mark.parametrize(("lists", "used", "samples", "negative"), [
    ((MEGC_LIST,), MEGC_LIST, 442, 250),
    ((MEGC_ANSWER_FILE,), MEGC_ANSWER_FILE, 441, 249),
    ((MEGC_LIST, MEGC_ANSWER_FILE), MEGC_LIST, 442, 250),
])
def test_either_megc_list_gives_the_composite_its_published_counts(
        released: Path, tmp_path: Path, lists, used, samples, negative) -> None:
    root = linked_root(released, tmp_path / "root", lists)
    answer = (root / "MEGC2019" / MEGC_ANSWER_FILE)
    if answer.exists():  # the official answer file as published
        text = answer.read_text()
        assert text.count(",,,") == 441 and "032_3_1" not in text and "smic,s01,s01_ne_01" in text
    check = check_protocol(get_protocol("megc2019-3class"), resolve_data_source(root))
    assert check.status == "matches", check.problems
    assert (check.samples, check.subjects) == (samples, 68)
    assert check.expected.counts["negative"] == negative
    assert check.sample_list.spec.file == f"MEGC2019/{used}"
    assert check.sample_list.entries == samples and not check.sample_list.dropped


@pytest.fixture()
def damaged(released: Path, tmp_path: Path) -> Path:
    """The released root with one SAMM row no erratum fixes: a listed negative's onset typed
    as text."""
    root = linked_root(released, tmp_path / "root", (MEGC_LIST,))
    (root / "SAMM").unlink()
    shutil.copytree(released / "SAMM", root / "SAMM", copy_function=os.link)
    coding = root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx"
    coding.unlink()  # a linked file: edit a copy of its own
    shutil.copy(released / "SAMM" / coding.name, coding)
    workbook = load_workbook(coding)
    sheet = workbook["MICRO_ONLY"]
    row = next(r for r in range(16, sheet.max_row + 1) if sheet.cell(r, 10).value
               in ("Anger", "anger") and sheet.cell(r, 2).value != "032_3_1")
    sheet.cell(row, 4).value = "x"
    workbook.save(coding)
    return root


def test_on_real_data_a_failed_count_check_stops_the_run(damaged: Path) -> None:
    protocol = get_protocol("megc2019-3class")
    with pytest.raises(DataError) as error:
        check_before_run(protocol, resolve_data_source(damaged), lambda line: None)
    message = str(error.value)
    assert "\n" not in message and "class 'negative' has 249 samples, published 250" in message
    assert "1 rows excluded on loading" in message and "Onset Frame 'x'" in message
    assert "--allow-count-mismatch" in message
    said: list[str] = []
    check = check_before_run(protocol, resolve_data_source(damaged, allow_count_mismatch=True),
                             said.append)
    assert check.samples == 441
    assert any("dropped:" in line and "excluded on loading" in line for line in said)
    assert any(line.startswith("  count check:") for line in said)


def test_a_run_stops_before_training_on_a_failed_check_or_with_strict(cli, damaged: Path,
                                                                       tmp_path: Path) -> None:
    base = ("run", "--protocol", "samm-3class", "--model", "ststnet", "--keyframes",
            "annotated", "--data-root", damaged, "--results", tmp_path / "results")
    code, _, err = cli(*base)
    said, error = err.strip().splitlines()[:-1], err.strip().splitlines()[-1]
    assert code == 2 and "samm-3class: the data does not give the published counts" in error
    assert "--allow-count-mismatch" in error and "Onset Frame 'x'" in error
    assert said[0] == "samm-3class: 132 samples, 28 subjects (synthetic twin, scale 1)"
    assert "SAMM: 2 errata fixes, 141 labels normalised, 1 rows excluded" in said[1]
    code, _, err = cli(*base, "--strict", "--allow-count-mismatch")
    error = err.strip().splitlines()[-1]
    assert code == 2 and "SAMM: 1 rows excluded on loading, and --strict allows none" in error
    assert not (tmp_path / "results" / "records").exists()


def test_a_label_no_protocol_maps_is_said_before_a_run(twin_copy: Path) -> None:
    (coding,) = (twin_copy / "CASME2").glob("CASME2-coding-*.xlsx")
    workbook = load_workbook(coding)
    workbook.active["I2"] = "confusion??"
    workbook.save(coding)
    said: list[str] = []
    check_before_run(get_protocol("casme2-5class"), resolve_data_source(twin_copy), said.append)
    assert any("CASME II: 1 samples with emotion 'confusion??', which no protocol maps" in line
               for line in said)
