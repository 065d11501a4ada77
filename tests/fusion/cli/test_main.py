"""The command line's entry: --version, --help without importing the commands, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gazefusion.fusion.cli import COMMANDS, main
from gazefusion.fusion.version import software_version


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"gazefusion {software_version()}"
    assert software_version()[0].isdigit()


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    code = (
        "import sys\n"
        "from gazefusion.fusion.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('cv2', 'numpy', 'pydantic', 'gazefusion.fusion.config') if m in sys.modules]\n"
        "commands = [m for m in sys.modules if m.startswith('gazefusion.fusion.cli.')]\n"
        "print('IMPORTED', heavy, commands)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "IMPORTED [] []" in out
    for words, _, _ in COMMANDS:
        assert words[0] in out


def test_a_command_s_help_has_its_arguments(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["calibrate", "tracker", "--help"])
    assert "--simulate-participant" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["nonsense"], "invalid choice: 'nonsense'"), (["probe"], "the following arguments are required: SOURCE")],
    ids=["unknown-command", "missing-argument"],
)
def test_bad_command_line_is_one_line_and_exit_2(argv: list[str], expected: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gazefusion: ") and expected in err and err.count("\n") == 1
