"""One JSON Lines reader (files.iter_json_lines) behind the rollout reader, the converters and prepare.

Each caller keeps its own error type and location format; a file that cannot be read at all (a non-gzip
``.gz``, a truncated archive, binary data, a directory) is named in every one of them, never a bare
``BadGzipFile`` / ``EOFError`` / ``UnicodeDecodeError``.
"""

from __future__ import annotations

import gzip
import json

import pytest

from memreward_verl.cli import main
from memreward_verl.convert.base import iter_jsonl, open_text
from memreward_verl.files import FileFormatError, JsonLinesError, iter_json_lines
from memreward_verl.files import open_text as files_open_text
from memreward_verl.prepare.records import RecordError
from memreward_verl.prepare.sources import read_jsonl
from memreward_verl.rollouts import RolloutFormatError, read_rollouts

RECORD = {
    "query_id": "q1",
    "domain": "math",
    "data_source": "math",
    "question": "1+1?",
    "ground_truth": "2",
    "rollouts": [{"text": "2", "label": 1}],
}

# name, bytes, what every reader's message must say about the file as a whole (no line of which is a record)
GZ = "cannot be read as gzip-compressed UTF-8 JSON Lines"
TXT = "cannot be read as UTF-8 JSON Lines"
UNREADABLE = [
    ("plain.jsonl.gz", b'{"a": 1}\n', GZ + r" \(not gzip: the name ends in \.gz but the file starts with b'\{"),
    ("cut.jsonl.gz", gzip.compress(b"\n" * 5000)[:20], GZ + r"( after line \d+)? \(EOFError"),
    ("binary.jsonl", b"\n\xff\xfe\x00garbage\n", TXT + r"( after line \d+)? \(UnicodeDecodeError"),
]


def test_plain_and_gzip_give_the_same_lines_with_numbers(tmp_path):
    """Blank lines are skipped but counted: the numbers are the file's own line numbers."""
    text = '{"a": 1}\n\n  \n[2, 3]\n"s"\n'
    (tmp_path / "x.jsonl").write_text(text, encoding="utf-8")
    with gzip.open(tmp_path / "x.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(text)
    want = [(1, {"a": 1}), (4, [2, 3]), (5, "s")]
    assert list(iter_json_lines(tmp_path / "x.jsonl")) == want
    assert list(iter_json_lines(tmp_path / "x.jsonl.gz")) == want
    (tmp_path / "empty.jsonl.gz").write_bytes(b"")  # an empty file holds no lines, gzip-named or not
    assert list(iter_json_lines(tmp_path / "empty.jsonl.gz")) == []


def test_bad_line_carries_its_number_and_the_problem(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{not json\n', encoding="utf-8")
    with pytest.raises(JsonLinesError) as info:
        list(iter_json_lines(path))
    assert info.value.line == 2 and info.value.path == path
    assert info.value.problem.startswith("invalid JSON (Expecting property name")
    assert str(info.value).startswith(f"{path} line 2: invalid JSON")


@pytest.mark.parametrize("name,content,match", UNREADABLE)
def test_unreadable_files_are_named_by_the_shared_reader(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(JsonLinesError, match=match) as info:
        list(iter_json_lines(path))
    assert info.value.line is None and str(info.value).startswith(f"{path}: ")


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(JsonLinesError, match=rf"{tmp_path}: is a directory, not a file"):
        list(iter_json_lines(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        list(iter_json_lines(tmp_path / "absent.jsonl"))
    assert info.value.filename == str(tmp_path / "absent.jsonl")


def test_open_text_refuses_a_gz_name_on_plain_data_and_writes_gzip(tmp_path):
    """Every reader opening through open_text (CSV and JSON too) names a non-gzip .gz at once."""
    (tmp_path / "t.csv.gz").write_text("a,b\n1,2\n")
    with pytest.raises(FileFormatError, match=r"t\.csv\.gz: cannot be read as gzip-compressed data \(not gzip"):
        files_open_text(tmp_path / "t.csv.gz")
    with pytest.raises(ValueError, match=r"t\.csv\.gz: cannot be read as gzip-compressed data"):
        open_text(tmp_path / "t.csv.gz")  # the converters' opener: the same check
    with files_open_text(tmp_path / "w.jsonl.gz", "w") as fh:
        fh.write("é\n")
    assert gzip.decompress((tmp_path / "w.jsonl.gz").read_bytes()) == "é\n".encode()


# --------------------------------------------------------------------- the callers keep their contracts


@pytest.mark.parametrize("name,content,match", UNREADABLE)
def test_rollout_reader_names_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RolloutFormatError, match=rf"{path}: {match}"):
        read_rollouts(path)


def test_rollout_reader_line_errors_use_the_file_name_and_line(tmp_path):
    path = tmp_path / "r.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(RECORD) + "\n\n[1]\n")
    with pytest.raises(RolloutFormatError, match=r"^r\.jsonl\.gz line 3: expected a JSON object, got list$"):
        read_rollouts(path)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(RECORD) + "\n{oops\n")
    with pytest.raises(RolloutFormatError, match=r"^r\.jsonl\.gz line 2: invalid JSON \("):
        read_rollouts(path)
    with pytest.raises(RolloutFormatError, match=rf"{tmp_path}: is a directory, not a file"):
        read_rollouts(tmp_path)


@pytest.mark.parametrize("name,content,match", UNREADABLE)
def test_converter_and_prepare_readers_name_the_file(tmp_path, name, content, match):
    """The converters raise ValueError, prepare RecordError: both with the file, neither an OSError."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"{path}: {match}") as info:
        list(iter_jsonl(path))
    assert not isinstance(info.value, OSError)
    with pytest.raises(RecordError, match=rf"{path}: {match}"):
        list(read_jsonl(path))


def test_converter_reader_keeps_its_location_format(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"a": 1}\n\n{bad\n', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{path}:3: invalid JSON \(") as info:
        list(iter_jsonl(path))
    assert not isinstance(info.value, JsonLinesError)  # a line error is re-worded in the converters' own format
    path.write_text('{"a": 1}\n"text"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{path}:2: expected a JSON object, got str$"):
        list(iter_jsonl(path))
    with pytest.raises(FileNotFoundError, match="input not found"):
        list(iter_jsonl(tmp_path / "absent.jsonl"))


def test_cli_convert_of_a_non_gzip_gz_exits_2_naming_it(tmp_path, capsys):
    """Through `memreward convert`: exit 2, the file named, no traceback, no output written."""
    path = tmp_path / "solutions.jsonl.gz"
    path.write_text('{"question": "q"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["convert", "--from", "gsm8k_model_solutions", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: cannot be read as gzip-compressed UTF-8 JSON Lines (not gzip" in err and "Traceback" not in err
    assert not out.exists()
