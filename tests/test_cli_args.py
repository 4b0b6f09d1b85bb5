"""The memreward CLI checks its arguments and output paths before any compute; bad input exits 2, named."""

from __future__ import annotations

import gzip
import re

import pytest

from memreward_verl.cli import main


@pytest.fixture()
def rollouts(tmp_path):
    """A rollout file that fails to parse: every test here must stop before reading it, or name it."""
    path = tmp_path / "r.jsonl"
    path.write_text("not json\n")
    return path


def _run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "ratios,match",
    [
        ("", r"--label-ratios: must list at least one ratio"),
        ("0.2,1.5", r"--label-ratios: item '1.5' must be in \(0, 1\]"),
        ("0.2,,0.3", r"--label-ratios: has an empty item"),
        ("0.2,x", r"--label-ratios: item 'x' must be a number"),
        ("0.2,0.2", r"--label-ratios: lists a ratio twice"),
    ],
)
def test_label_ratios_rejected_up_front(rollouts, tmp_path, capsys, ratios, match):
    """An empty or out-of-range ratio list is an argparse error (exit 2), never a silent default of 0.2."""
    with pytest.raises(SystemExit) as info:
        main(["eval", str(rollouts), "--label-ratios", ratios, "--out", str(tmp_path / "o.json")])
    assert info.value.code == 2
    assert re.search(match, capsys.readouterr().err)


def test_single_label_ratio_range(rollouts, tmp_path, capsys):
    """--label-ratio 0 is rejected too."""
    with pytest.raises(SystemExit) as info:
        main(["eval", str(rollouts), "--label-ratio", "0", "--out", str(tmp_path / "o.json")])
    assert info.value.code == 2 and "--label-ratio: must be in (0, 1]" in capsys.readouterr().err


def test_input_directory_is_named(tmp_path, capsys):
    """A directory given as the rollout file: exit 2 naming it, no traceback."""
    with pytest.raises(SystemExit) as info:
        main(["eval", str(tmp_path), "--out", str(tmp_path / "o.json")])
    assert info.value.code == 2 and f"{tmp_path}: is a directory, not a file" in capsys.readouterr().err


def test_output_paths_checked_before_reading_or_embedding(rollouts, tmp_path, capsys):
    """--out that is a directory, or under a file, fails before the (garbage) rollout file is even read."""
    code, err = _run(capsys, "eval", str(rollouts), "--out", str(tmp_path))
    assert code == 2 and f"--out {tmp_path}: is a directory" in err and "line 1" not in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = _run(capsys, "eval", str(rollouts), "--out", str(blocker / "sub" / "o.json"))
    assert code == 2 and f"{blocker}" in err and "line 1" not in err
    code, err = _run(capsys, "eval", str(rollouts), "--out", str(tmp_path / "o.json"), "--plots", str(blocker))
    assert code == 2 and f"--plots {blocker}: exists and is not a directory" in err
    code, err = _run(capsys, "eval", str(rollouts), "--out", str(tmp_path / "o.json"), "--methods", "memreward,gnn")
    assert code == 2 and "--methods: unknown ['gnn']" in err


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("plain.jsonl.gz", b'{"query_id": "q"}\n', r"plain.jsonl.gz: cannot be read as gzip-compressed"),
        ("cut.jsonl.gz", gzip.compress(b"\n" * 5000)[:20], r"cut.jsonl.gz: cannot be read"),
        ("binary.jsonl", b"\xff\xfe\x00garbage\n", r"binary.jsonl: cannot be read as UTF-8 JSON Lines"),
    ],
)  # fmt: skip
def test_unreadable_rollout_files_exit_2_naming_the_file(tmp_path, capsys, name, content, match):
    """A non-gzip .gz, a truncated .gz and binary data each exit 2 with the file named (no traceback)."""
    path = tmp_path / name
    path.write_bytes(content)
    code, err = _run(capsys, "eval", str(path), "--out", str(tmp_path / "o.json"))
    assert code == 2 and re.search(match, err), err
    assert "Traceback" not in err
