"""files.py and the artifact loader: one atomic writer; every file read names itself and what is wrong."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from memreward_verl.artifact import ArtifactError, load_artifact
from memreward_verl.files import FileFormatError, atomic_write, atomic_write_json, read_json, read_npz
from memreward_verl.integration.testing import build_small_artifact


@pytest.fixture(scope="module")
def artifact_dir(arith_queries, arith_groups, tmp_path_factory):
    labelled = [q.query_id for q in arith_queries[:20]]
    return build_small_artifact(arith_groups, labelled, tmp_path_factory.mktemp("files") / "artifact", epochs=2)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    """A failed write keeps the previous content and leaves no temporary file; .gz keeps its suffix."""
    path = atomic_write_json(tmp_path / "state.json", {"a": 1})

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert json.loads(path.read_text()) == {"a": 1} and sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    seen = []
    atomic_write(tmp_path / "x.jsonl.gz", lambda tmp: seen.append(tmp.suffix) or tmp.write_bytes(b""))
    assert seen == [".gz"]


@pytest.mark.parametrize(
    "content,expect,keys,match",
    [
        (b"", dict, (), r"bad.json: the file is empty"),
        (b"{not json", dict, (), r"bad.json: not valid JSON \(Expecting property name.* line 1, column 2\)"),
        (b"\xff\xfe", dict, (), r"bad.json: not UTF-8 text"),
        (b"[1, 2]", dict, (), r"bad.json: the top level must be a JSON object \(got list\)"),
        (b'{"a": 1}', dict, ("a", "b"), r"bad.json: missing key\(s\) \['b'\] \(has \['a'\]\)"),
    ],
)
def test_read_json_names_the_file_and_the_problem(tmp_path, content, expect, keys, match):
    """Each broken JSON gives one FileFormatError with the path and what is wrong."""
    (tmp_path / "bad.json").write_bytes(content)
    with pytest.raises(FileFormatError, match=match):
        read_json(tmp_path / "bad.json", expect, keys)


def test_read_npz_empty_truncated_and_incomplete(tmp_path):
    """An empty, a truncated and an incomplete archive are each named, never a bare BadZipFile/EOFError."""
    good = tmp_path / "good.npz"
    np.savez(good, a=np.arange(1000.0), b=np.ones(3))
    assert read_npz(good, ["a", "b"])["a"].shape == (1000,)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(FileFormatError, match=r"empty.npz: the file is empty"):
        read_npz(tmp_path / "empty.npz", ["a"])
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(FileFormatError, match=r"cut.npz: not a readable .npz archive, truncated or corrupt"):
        read_npz(tmp_path / "cut.npz", ["a", "b"])
    with pytest.raises(FileFormatError, match=r"good.npz: the archive lacks array\(s\) \['c'\]"):
        read_npz(good, ["a", "c"])


def _broken(artifact_dir, tmp_path, rel, write):
    bad = tmp_path / "artifact"
    shutil.copytree(artifact_dir, bad)
    write(bad / rel)
    return bad


def _drop_key(path, key):
    meta = json.loads(path.read_text())
    del meta[key]
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "rel,write,match",
    [
        ("memory/arrays.npz", lambda p: p.write_bytes(p.read_bytes()[:200]), r"memory/arrays.npz: not a readable .npz"),
        ("memory/arrays.npz", lambda p: p.write_bytes(b""), r"memory/arrays.npz: the file is empty"),
        ("memory/memory.json", lambda p: _drop_key(p, "num_rollouts"), r"memory.json: missing key.*num_rollouts"),
        ("labelled_ids.json", lambda p: p.write_text("garbage"), r"labelled_ids.json: not valid JSON"),
        ("labelled_ids.json", lambda p: p.write_text('{"ids": 1}'), r"labelled_ids.json: the top level must.*array"),
        ("labelled_ids.json", lambda p: p.write_text('["nobody"]'), r"labelled_ids.json: disagrees with the memory"),
        ("labelled_ids.json", lambda p: p.write_text("[1, 2]"), r"labelled_ids.json: must be a JSON array of query id"),
        ("model.pt", lambda p: p.write_bytes(p.read_bytes()[:100]), r"model.pt: not a readable torch checkpoint"),
        ("artifact.json", lambda p: _drop_key(p, "model_id"), r"artifact.json: missing key\(s\) \['model_id'\]"),
    ],
)  # fmt: skip
def test_broken_artifact_file_is_named(artifact_dir, tmp_path, rel, write, match):
    """Every file the artifact loader reads: broken, it is an ArtifactError naming that file and the problem."""
    bad = _broken(artifact_dir, tmp_path, rel, write)
    with pytest.raises(ArtifactError, match=match) as info:
        load_artifact(bad)
    assert str(bad) in str(info.value)


def test_memory_sizes_that_disagree_are_listed(artifact_dir, tmp_path):
    """An answer_keys.json one entry short says which counts disagree."""

    def shorten(p):
        p.write_text(json.dumps(json.loads(p.read_text())[:-1]))

    bad = _broken(artifact_dir, tmp_path, "memory/answer_keys.json", shorten)
    with pytest.raises(ArtifactError, match=r"sizes disagree.*answer_keys.json entries \d+ != \d+"):
        load_artifact(bad)
