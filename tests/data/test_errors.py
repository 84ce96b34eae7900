"""Bad `data` calls fail with a ValueError that names the problem (and the fix, when known)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlang.data import load_data
from netlang.data.sources import SOURCES
from netlang.semantics.train_schema import DATA
from netlang.semantics.train_spec import Call


def test_every_source_in_the_schema_is_implemented() -> None:
    assert set(SOURCES) == set(DATA)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (Call("digit"), r"unknown data source 'digit' \(did you mean 'digits'\?\)"),
        (Call("digits", (), {"szie": 32}), r"no argument 'szie' \(did you mean 'size'\?\)"),
        (Call("digits", (32, 0.8, False, None, 1)), "at most 4 positional arguments"),
        (Call("digits", (32,), {"size": 16}), "'size' is given twice"),
        (Call("digits", (), {"size": 0}), "size=0: expected a positive integer"),
        (Call("digits", (), {"split": 1.5}), r"train fraction must be in \(0, 1\]"),
        (Call("digits", (), {"split": [0.5, 0.2, 0.2]}), "sum to 1"),
        (Call("digits", (), {"flatten": "yes"}), "flatten='yes': expected true or false"),
        (Call("mnist", (), {}), "root must be given"),
        (Call("mnist", ("m",), {"limit": 0}), "limit=0: expected a positive integer"),
        (Call("npz", ("missing.npz",), {}), "missing.npz does not exist"),
    ],
)
def test_bad_calls_raise_a_clear_value_error(call: Call, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        load_data(call, base_dir=tmp_path)


def test_csv_label_name_needs_a_header(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match="no column 'kind' for label .no header row"):
        load_data(Call("csv", ("t.csv",), {"label": "kind"}), base_dir=tmp_path)


def test_csv_text_in_a_feature_column_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("label,text\nham,hello\nspam,win\n")
    with pytest.raises(ValueError, match="feature columns must be numeric"):
        load_data(Call("csv", ("t.csv",), {"label": "label"}), base_dir=tmp_path)


def test_a_csv_saved_by_excel_with_a_bom_names_its_first_column_plainly(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes("\ufeffprecio,área\n1.5,2\n2.5,3\n".encode())
    splits = load_data(
        Call("csv", ("t.csv",), {"label": "precio", "split": 1.0}), base_dir=tmp_path
    )
    assert splits.train.x.ravel().tolist() == [2.0, 3.0]


def test_a_text_table_with_a_bom_finds_its_header(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes("\ufefflabel,text\r\nham,hola\r\nspam,gana\r\n".encode())
    splits = load_data(Call("text", ("t.csv",), {"split": 1.0}), base_dir=tmp_path)
    assert list(splits.train.x) == ["hola", "gana"] and splits.classes == ["ham", "spam"]


@pytest.mark.parametrize(("source", "argument"), [("csv", "label"), ("text", "text")])
def test_a_column_name_in_another_case_is_told_the_header_spelling(
    tmp_path: Path, source: str, argument: str
) -> None:
    (tmp_path / "t.csv").write_text("Label,Text,x\nham,hola,1\nspam,gana,2\n")
    wrong = argument.lower()
    with pytest.raises(ValueError, match=f"no column '{wrong}' .*did you mean '{wrong.title()}'"):
        load_data(Call(source, ("t.csv",), {argument: wrong, "split": 1.0}), base_dir=tmp_path)


def test_an_empty_class_folder_is_an_error_not_a_class_never_seen(tmp_path: Path) -> None:
    from PIL import Image

    for name in ("gato", "perro"):
        (tmp_path / "fotos" / name).mkdir(parents=True)
        Image.new("L", (4, 4)).save(tmp_path / "fotos" / name / "a.png")
    (tmp_path / "fotos" / "vacío").mkdir()
    (tmp_path / "fotos" / "vacío" / "Thumbs.db").write_bytes(b"\0")
    with pytest.raises(ValueError, match="class folder vacío in .*fotos holds no images"):
        load_data(Call("image_folder", ("fotos",), {"split": 1.0}), base_dir=tmp_path)


def test_a_damaged_image_in_a_class_folder_is_named(tmp_path: Path) -> None:
    from PIL import Image

    for name in ("gato", "perro"):
        (tmp_path / "fotos" / name).mkdir(parents=True)
        Image.new("L", (4, 4)).save(tmp_path / "fotos" / name / "a.png")
    (tmp_path / "fotos" / "perro" / "b.png").write_bytes(b"\x89PNG cut short")
    with pytest.raises(ValueError, match=r"perro/b\.png: not an image Pillow can read"):
        load_data(Call("image_folder", ("fotos",), {"split": 1.0}), base_dir=tmp_path)


def test_a_csv_from_a_spanish_excel_reads_semicolons_and_decimal_commas(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes("\ufeffárea;precio\r\n1,5;2\r\n-2,25;3\r\n".encode())
    splits = load_data(Call("csv", ("t.csv",), {"label": "área", "split": 1.0}), base_dir=tmp_path)
    assert splits.train.x.ravel().tolist() == [2.0, 3.0]
    assert splits.train.y.tolist() == [1.5, -2.25]
