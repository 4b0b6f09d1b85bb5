"""Every ``memreward`` subcommand checks its inputs, numbers and output paths before any compute.

Each failing case gives garbage inputs (files that exist but cannot be parsed): had the command read,
embedded or loaded a model before its checks, the error would be about the garbage, not the named path.
Each case also checks that nothing was created or changed under the test folder.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from memreward_verl.cli import main
from memreward_verl.cli_args import creatable_dir, writable_file
from memreward_verl.rollouts import read_rollouts


@pytest.fixture()
def p(tmp_path):
    """Paths: garbage inputs that exist, a directory, a file, and a missing path."""
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"\x00 not json at all\n")
    parquet = tmp_path / "train.parquet"
    parquet.write_bytes(b"not a parquet file")
    folder = tmp_path / "a_dir"
    folder.mkdir()
    (folder / "inside.txt").write_text("keep")
    file = tmp_path / "a_file"
    file.write_text("keep me")
    return SimpleNamespace(
        root=tmp_path,
        garbage=str(garbage),
        parquet=str(parquet),
        dir=str(folder),
        file=str(file),
        under_file=str(file / "sub" / "out"),
        missing=str(tmp_path / "missing.jsonl"),
        new=str(tmp_path / "new_dir" / "out"),
    )


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its content (None for a directory)."""
    return {str(q.relative_to(root)): (q.read_bytes() if q.is_file() else None) for q in sorted(root.rglob("*"))}


def _call(argv: list[str]) -> tuple[str, int]:
    """("parse", code) when argparse rejected the arguments, ("run", code) when the command returned."""
    try:
        return "run", main(argv)
    except SystemExit as exc:
        return "parse", exc.code


NOT_DIR = "exists and is not a directory"
CONVERT = ["convert", "--from"]
LABEL = ["label", "{garbage}", "--out", "{new}"]
WARMUP = ["warmup", "--train", "{parquet}", "--model", "m"]
WARMUP_R = [*WARMUP, "--label-ratio", "0.2"]
ACQ = ["eval-acquisition", "{garbage}"]
ACQ_OUT = [*ACQ, "--out", "{new}"]

# (subcommand arguments, where the error comes from, text stderr must hold); ``{name}`` is a path of ``p``.
CASES = [
    # convert: the input may be a file or a directory (by format); --out is a file
    ([*CONVERT, "qwen_math", "{missing}", "--out", "{new}"], "parse", "{missing}: no such file or directory"),
    ([*CONVERT, "qwen_math", "{garbage}", "--out", "{dir}"], "run", "--out {dir}: is a directory"),
    ([*CONVERT, "qwen_math", "{garbage}", "--out", "{under_file}"], "run", "{file} " + NOT_DIR),
    ([*CONVERT, "qwen_math", "{dir}", "--out", "{new}"], "run", "input {dir}: is a directory; format 'qwen_math'"),
    ([*CONVERT, "faithful_cot", "{garbage}", "--out", "{new}"], "run", "input {garbage}: is a file; format"),
    ([*CONVERT, "game24", "{garbage}", "--out", "{new}", "--opt", "puzzles={missing}"], "run",
     "--opt puzzles={missing}: no such file"),
    ([*CONVERT, "game24", "{garbage}", "--out", "{new}", "--opt", "nope=1"], "run", "does not take option(s) ['nope']"),
    ([*CONVERT, "qwen_math", "{garbage}", "--out", "{new}", "--limit", "0"], "parse", "--limit: must be >= 1"),
    # label: a rollout file in, a rollout file (and a report) out
    (["label", "{missing}", "--out", "{new}"], "parse", "{missing}: no such file"),
    (["label", "{dir}", "--out", "{new}"], "parse", "{dir}: is a directory, not a file"),
    (["label", "{garbage}", "--out", "{dir}"], "run", "--out {dir}: is a directory"),
    ([*LABEL, "--report", "{dir}"], "run", "--report {dir}: is a directory"),
    ([*LABEL, "--jobs", "0"], "parse", "--jobs: must be >= 1"),
    ([*LABEL, "--code-timeout", "-1"], "parse", "--code-timeout: must be a finite number > 0"),
    # synth: a rollout file out
    (["synth", "--out", "{dir}"], "run", "--out {dir}: is a directory"),
    (["synth", "--out", "{under_file}"], "run", "{file} " + NOT_DIR),
    (["synth", "--queries", "3", "--out", "{new}"], "parse", "--queries: must be >= 4"),
    # warmup: parquet / JSON inputs, an artifact directory (swapped in whole) and a cache directory out
    (["warmup", "--train", "{missing}", "--label-ratio", "0.2", "--model", "m", "--out", "{new}"], "parse",
     "{missing}: no such file"),
    ([*WARMUP, "--labelled", "{dir}", "--out", "{new}"], "parse", "{dir}: is a directory, not a file"),
    ([*WARMUP_R, "--out", "{new}", "--config", "{missing}"], "parse", "{missing}: no such file"),
    ([*WARMUP_R, "--out", "{file}"], "run", "--out {file}: " + NOT_DIR),
    ([*WARMUP_R, "--out", "{under_file}"], "run", "{file} " + NOT_DIR),
    ([*WARMUP_R, "--out", "{new}", "--cache-dir", "{file}"], "run", "--cache-dir {file}: " + NOT_DIR),
    ([*WARMUP, "--label-ratio", "1.5", "--out", "{new}"], "parse", "--label-ratio: must be in (0, 1]"),
    ([*WARMUP_R, "--out", "{new}", "--n", "0"], "parse", "--n: must be >= 1"),
    # demo: one output folder
    (["demo", "--out", "{file}"], "run", "--out {file}: " + NOT_DIR),
    (["demo", "--out", "{under_file}"], "run", "{file} " + NOT_DIR),
    (["demo", "--out", "{new}", "--acquisition", "carefully"], "run", "--acquisition: unknown strategy 'carefully'"),
    (["demo", "--out", "{new}", "--budget", "1.5"], "parse", "--budget: must be in [0, 1]"),
    (["demo", "--out", "{new}", "--label-ratio", "0"], "parse", "--label-ratio: must be in (0, 1]"),
    (["demo", "--out", "{new}", "--compute-dtype", "fp16"], "parse", "--compute-dtype: invalid choice: 'fp16'"),
    # eval-acquisition: a rollout file in, a report and a plot out
    (["eval-acquisition", "{missing}", "--out", "{new}"], "parse", "{missing}: no such file"),
    ([*ACQ, "--out", "{dir}"], "run", "--out {dir}: is a directory"),
    ([*ACQ_OUT, "--plot", "{dir}"], "run", "--plot {dir}: is a directory"),
    ([*ACQ_OUT, "--cache-dir", "{file}"], "run", "--cache-dir {file}: " + NOT_DIR),
    ([*ACQ_OUT, "--budgets", "0.1,,0.3"], "parse", "--budgets: has an empty item"),
    ([*ACQ_OUT, "--seeds", "0,x"], "parse", "--seeds: must be comma-separated integers"),
    ([*ACQ_OUT, "--fit-seeds", ""], "parse", "--fit-seeds: must list integers"),
    # prepare: an optional GPQA file in, one output folder
    (["prepare", "--datasets", "gsm8k", "--gpqa-file", "{missing}", "--out", "{new}"], "parse",
     "{missing}: no such file"),
    (["prepare", "--datasets", "gsm8k", "--source", "local", "--data-root", "{dir}", "--out", "{file}"], "run",
     "--out {file}: " + NOT_DIR),
    (["prepare", "--datasets", "gsm8k", "--per-dataset", "0", "--out", "{new}"], "parse",
     "--per-dataset: expected a positive integer or 'all'"),
    # preflight
    (["preflight", "--cpus", "0", "--no-import-check"], "parse", "--cpus: must be a finite number > 0"),
]  # fmt: skip


@pytest.mark.parametrize("argv,stage,expect", CASES, ids=[f"{c[0][0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_paths_and_numbers_stop_every_command_up_front(p, capsys, argv, stage, expect):
    """Exit 2 naming the path or option, from argparse or the command's first lines; nothing created."""
    argv = [a.format(**vars(p)) for a in argv]
    before = _tree(p.root)
    t0 = time.monotonic()
    got_stage, code = _call(argv)
    elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    assert (got_stage, code) == (stage, 2), err
    assert expect.format(**vars(p)) in err, err
    assert "Traceback" not in err and "not json" not in err
    assert _tree(p.root) == before  # no partial output, no empty folder, the blocking file untouched
    assert elapsed < 20, f"{argv[0]} took {elapsed:.1f} s to refuse its arguments"


def test_every_subcommand_is_covered():
    """A subcommand added to the CLI gets its row in CASES (or in test_cli_args for eval)."""
    import argparse

    from memreward_verl.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) - {"eval"} == {c[0][0] for c in CASES}


def test_output_checks_create_nothing_and_accept_new_paths(tmp_path):
    """writable_file / creatable_dir accept paths under folders still to be made, and make none of them."""
    assert writable_file(tmp_path / "a" / "b" / "out.json", "--out") == tmp_path / "a" / "b" / "out.json"
    assert creatable_dir(tmp_path / "c" / "d", "--out", replace=True) == tmp_path / "c" / "d"
    existing = tmp_path / "e"
    existing.mkdir()
    assert creatable_dir(existing, "--out") == existing
    assert sorted(x.name for x in tmp_path.iterdir()) == ["e"] and not any(existing.iterdir())


def test_synth_writes_under_new_folders(tmp_path, capsys):
    """The checks do not refuse a valid output whose folders do not exist yet: they are made on writing."""
    out = tmp_path / "new" / "deeper" / "arith.jsonl.gz"
    assert main(["synth", "--queries", "4", "--rollouts", "2", "--out", str(out)]) == 0
    assert [len(q.rollouts) for q in read_rollouts(out)] == [2, 2, 2, 2]
    assert f"to {out}" in capsys.readouterr().out


def test_convert_reads_a_directory_input_where_the_format_takes_one(tmp_path, capsys):
    """faithful_cot reads a folder: the input check lets it through, --out is written."""
    root = tmp_path / "GSM8K"
    for name, records in {
        "gold_test.jsonl.gz": [{"id": 0, "question": "q0", "answer": "x\n#### 18"}],
        "lmA_COT/predictions.jsonl.gz": [{"id": "0", "answer": "18", "completion": "c0"}],
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(root / name, "wt", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in records)
    out = tmp_path / "out" / "faithful.jsonl"
    assert main(["convert", "--from", "faithful_cot", str(root), "--out", str(out)]) == 0
    (q,) = read_rollouts(out)
    assert q.labels == [1] and "1 queries" in capsys.readouterr().out
