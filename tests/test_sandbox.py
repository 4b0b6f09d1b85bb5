"""The sandbox contains hostile programs and the verifier process stays healthy.

These run real programs in the real sandbox (no mocks). Where a protection depends on the
machine (namespaces, root), the test asserts what :func:`sandbox_capabilities` reports and then
checks that the reported protection actually holds.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from memreward_verl.verify import Status, verify_detailed
from memreward_verl.verify.code_verifier import CodeConfig, CodeVerifier
from memreward_verl.verify.sandbox import SandboxConfig, run_python, sandbox_capabilities

FAST = SandboxConfig(wall_time_s=4.0, cpu_time_s=2.0)
IS_ROOT = os.geteuid() == 0
CAPS = sandbox_capabilities()
# A HumanEval-style task the hostile programs pretend to solve.
TASK_GT = json.dumps(
    {
        "test": "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(5) == 10\n",
        "entry_point": "double",
    }
)


def _sandbox_uids() -> list[int]:
    """uids of live processes in the sandbox's private uid range (should be none between runs)."""
    base = SandboxConfig().uid_base
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        uid = int(line.split()[1])
                        if uid >= base:
                            found.append(uid)
        except OSError:
            continue
    return found


def test_capabilities_report_and_probe_ok():
    assert CAPS["probe_ok"] is True
    assert CAPS["running_as_root"] is IS_ROOT
    for key in ("network_namespace", "pid_namespace", "mount_namespace", "rlimits", "dropped_privileges"):
        assert key in CAPS
    assert CAPS["rlimits"] is True
    if IS_ROOT:
        # Root ignores RLIMIT_NPROC and file permissions: the run must not stay root.
        assert CAPS["dropped_privileges"] is True
        assert CAPS["uid"] >= SandboxConfig().uid_base


def test_simple_program_runs_and_completes():
    res = run_python("import sys\nprint(sum(range(10)))\nprint(sys.stdin.read().upper())", stdin="hello")
    assert res.ok and res.completed
    assert res.stdout.split() == ["45", "HELLO"]


def test_program_runs_unprivileged_with_clean_env_in_fresh_dir():
    code = (
        "import os, json\n"
        "print(json.dumps({'uid': os.getuid(), 'cwd': os.getcwd(), 'files': os.listdir('.'),"
        " 'env': sorted(os.environ)}))"
    )
    os.environ["MEMREWARD_TEST_SECRET"] = "s3cret"
    try:
        first = json.loads(run_python(code).stdout)
        second = json.loads(run_python(code).stdout)
    finally:
        del os.environ["MEMREWARD_TEST_SECRET"]
    assert "MEMREWARD_TEST_SECRET" not in first["env"]
    assert set(first["env"]) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONHASHSEED", "OMP_NUM_THREADS",
                                 "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"}  # fmt: skip
    assert first["files"] == [] and second["files"] == []
    if IS_ROOT:
        assert first["uid"] != 0 and second["uid"] != 0
        assert first["uid"] != second["uid"], "each run gets its own uid"


def test_infinite_loop_is_killed_by_cpu_limit():
    start = time.monotonic()
    res = run_python("while True:\n    pass\n", config=FAST)
    assert res.timed_out and not res.ok
    assert time.monotonic() - start < 8


def test_sleeping_program_is_killed_by_wall_limit():
    start = time.monotonic()
    res = run_python("import time\ntime.sleep(60)\n", config=SandboxConfig(wall_time_s=1.5))
    assert res.timed_out and not res.ok
    assert time.monotonic() - start < 6


def test_memory_bomb_hits_the_address_space_limit():
    res = run_python("x = bytearray(50 * 1024**3)\n", config=FAST)
    assert not res.ok and "MemoryError" in res.stderr
    res = run_python("chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024**2))\n", config=FAST)
    assert not res.ok


def test_fork_bomb_is_contained_and_leaves_no_process():
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    start = time.monotonic()
    res = run_python(bomb, config=FAST)
    assert not res.ok
    assert time.monotonic() - start < 10
    time.sleep(0.2)
    assert _sandbox_uids() == []
    assert run_python("print('alive')").stdout == "alive\n"


def test_escaped_daemon_dies_with_the_run():
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    res = run_python(code, config=FAST)
    assert res.ok
    time.sleep(0.3)
    assert _sandbox_uids() == []


def test_writes_outside_the_workdir_do_not_reach_the_host(tmp_path):
    target_tmp = os.path.join(tempfile.gettempdir(), f"memreward_pwned_{os.getpid()}")
    target_etc = "/etc/memreward_pwned"
    target_project = str(Path(__file__).resolve().parents[1] / "memreward_pwned.txt")
    target_user = str(tmp_path / "pwned.txt")
    code = "\n".join(
        f"try:\n    open({t!r}, 'w').write('x')\n    print('wrote', {t!r})\n"
        f"except OSError as e:\n    print('blocked', {t!r})"
        for t in (target_tmp, target_etc, target_project, target_user)
    )
    res = run_python(code + "\nopen('inside.txt', 'w').write('fine')\n", config=FAST)
    assert res.ok, res.stderr
    for target in (target_tmp, target_etc, target_project, target_user):
        assert not os.path.exists(target), f"sandbox wrote {target}"
    if IS_ROOT:
        assert f"blocked {target_etc}" in res.stdout


def test_cannot_read_the_verifiers_files(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    secret.chmod(0o600)
    own_source = Path(__file__).resolve()
    code = "\n".join(
        f"try:\n    print(open({str(p)!r}).read()[:40])\nexcept OSError as e:\n    print('denied', type(e).__name__)"
        for p in (secret, own_source)
    )
    res = run_python(code, config=FAST)
    assert res.ok, res.stderr
    assert "TOPSECRET" not in res.stdout
    if CAPS.get("hidden_paths"):
        assert "The sandbox contains" not in res.stdout, "the project directory should be hidden"
    # The verifier's own process is not visible / readable.
    res = run_python(f"print(open('/proc/{os.getpid()}/environ', 'rb').read()[:20])", config=FAST)
    assert not res.ok


def test_network_is_unreachable():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')"
        res = run_python(code, config=FAST)
        assert not res.ok and "connected" not in res.stdout
        with pytest.raises(OSError):
            server.accept()
    finally:
        server.close()


def test_gigabytes_of_output_are_capped_quickly():
    start = time.monotonic()
    res = run_python("import sys\nwhile True:\n    sys.stdout.write('x' * 1_000_000)\n", config=FAST)
    assert res.output_limited and not res.ok
    assert len(res.stdout) <= SandboxConfig().max_output_bytes
    assert time.monotonic() - start < 8


def test_big_file_write_is_stopped():
    res = run_python("with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * 1_000_000)\n", config=FAST)
    assert not res.ok


def test_exit_before_the_end_is_not_completion():
    for early in ("import os\nos._exit(0)\n", "import sys\nsys.exit(0)\n", "raise SystemExit\n"):
        res = run_python(early + "print('unreachable')\n", config=FAST)
        assert res.exit_code == 0 and not res.completed and not res.ok


def test_signal_tricks_do_not_hurt_the_verifier():
    code = (
        "import os, signal\n"
        "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):\n"
        "    signal.signal(s, signal.SIG_IGN)\n"
        "for target in (os.getppid(), -1, 1):\n"
        "    try:\n"
        "        os.kill(target, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
        "while True:\n"
        "    pass\n"
    )
    res = run_python(code, config=FAST)
    assert res.timed_out and not res.ok
    assert run_python("print(1 + 1)").stdout == "2\n"


def test_recursion_bomb_is_contained():
    code = "import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n"
    res = run_python(code, config=FAST)
    assert not res.ok


@pytest.mark.parametrize(
    "body",
    [
        "    while True:\n        pass\n",
        "    import os\n    os._exit(0)\n",
        "    import sys\n    sys.exit(0)\n",
        "    return bytearray(10**12)\n",
        "    import os\n    while True:\n        os.fork()\n",
        "    import socket\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n    return x * 2\n",
        "    while True:\n        print('x' * 10**6)\n",
        "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n    return x * 3\n",
        "    return double(x)\n",
    ],
    ids=["loop", "os_exit", "sys_exit", "memory", "forkbomb", "network", "output", "kill_parent", "recursion"],
)
def test_hostile_candidates_score_zero(body):
    verifier = CodeVerifier(CodeConfig(sandbox=FAST))
    res = verifier.verify("def double(x):\n" + body, TASK_GT)
    assert res.score == 0.0
    assert res.status is not Status.CORRECT
    assert verifier.verify("def double(x):\n    return 2 * x\n", TASK_GT).score == 1.0


def test_64_concurrent_verifications_are_all_correct():
    items = []
    for i in range(22):
        right = i % 2 == 0
        items.append(
            ("openai_humaneval", "def double(x):\n    return %s\n" % ("2 * x" if right else "x + 2"), TASK_GT, right)
        )
    for i in range(21):
        items.append(
            (
                "math",
                f"so the answer is \\boxed{{\\frac{{{i}}}{{4}}}}",
                str(i / 4 if i % 3 else i),
                i % 3 != 0 or i == 0,
            )
        )
    for i in range(21):
        chosen, gold = "ABCD"[i % 4], "ABCD"[(i // 2) % 4]
        items.append(("mmlu", f"The answer is ({chosen}).", gold, chosen == gold))
    assert len(items) == 64
    start = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(lambda it: verify_detailed(it[0], it[1], it[2]), items))
    elapsed = time.monotonic() - start
    wrong = [(it, r) for it, r in zip(items, results) if (r.score == 1.0) != it[3]]
    assert wrong == []
    assert elapsed < 120


def test_an_interpreter_under_tmp_is_a_clear_sandbox_error():
    """A virtual environment under /tmp is hidden by the child's private /tmp: instead of every
    program failing as if it crashed, the sandbox reports why (and code verification says sandbox_error)."""
    import sys

    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="mr_venv_"))
    try:
        (root / "bin").mkdir()
        (root / "bin" / "python").symlink_to(sys.executable)
        res = run_python("print(1)", config=SandboxConfig(python=str(root / "bin" / "python")))
        assert not res.ok and res.error and str(root) in res.error and "private tmpfs" in res.error
    finally:
        (root / "bin" / "python").unlink()
        (root / "bin").rmdir()
        root.rmdir()
