"""The one YAML reader and the atomic writer: clear errors, never half a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gazefusion.fusion.errors import ConfigError, FileFormatError, OutputError
from gazefusion.fusion.files import read_yaml, write_bytes_atomic, write_yaml_atomic


def test_round_trip_keeps_the_key_order(tmp_path: Path) -> None:
    path = tmp_path / "data.yaml"
    write_yaml_atomic(path, {"z": 1, "a": [1.5, None]})
    assert list(read_yaml(path, "data")) == ["z", "a"]
    assert read_yaml(path, "data") == {"z": 1, "a": [1.5, None]}
    assert [p.name for p in tmp_path.iterdir()] == ["data.yaml"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, r"^mapping file not found: .*nope\.yaml$"),
        (b"a: [1,\n", r"^mapping file .*nope\.yaml is not valid YAML \(line 2\)$"),
        (b"\xff\xfe\x00binary", r"is not valid YAML \(not UTF-8 text\)$"),
    ],
    ids=["missing", "broken", "binary"],
)
def test_bad_file_is_one_line_naming_it(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "nope.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(FileFormatError, match=expected) as caught:
        read_yaml(path, "mapping")
    assert "\n" not in str(caught.value)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="is a folder"):
        read_yaml(tmp_path, "markers")


def test_error_class_is_the_caller_s(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^configuration file not found"):
        read_yaml(tmp_path / "missing.yaml", "configuration", ConfigError)


def test_failed_rename_leaves_the_target_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_text("kept")
    with pytest.raises(OutputError, match=r"^cannot write .*taken: "):
        write_bytes_atomic(target, b"new")
    assert (target / "inside").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"^cannot write .*missing/out\.yaml"):
        write_yaml_atomic(tmp_path / "missing" / "out.yaml", {"a": 1})
