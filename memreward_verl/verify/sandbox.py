"""Run untrusted Python in a fresh, locked-down process.

Rewards computed from executing model-written code are only trustworthy if the code cannot hang,
exhaust, read or damage the machine that scores it. Every :func:`run_python` call starts a new
interpreter (``python -s -P -S -B``, an environment built from scratch). That bootstrap process (the
*supervisor*) applies, best effort and each one reported in :attr:`SandboxResult.protections`:

* new network, PID, mount, IPC and UTS namespaces (``unshare`` through ctypes; as root directly,
  otherwise inside a new user namespace);
* in the mount namespace: a private size-capped tmpfs on ``/tmp`` (holding the fresh working
  directory), ``/var/tmp`` and ``/dev/shm``, a fresh ``/proc``, and empty tmpfs over the verifier's
  own directories (``/root``, ``/home``, the project, the current directory) with the Python
  installation bound back in read-only;
* a child process, PID 1 of the new PID namespace, that drops to a per-run unprivileged uid/gid
  (never shared by two live runs), sets rlimits (address space, CPU, file size, open files,
  processes, core dumps), ``PR_SET_NO_NEW_PRIVS`` and a parent-death signal, then runs the program;
* wall-time and output-size limits enforced by the supervisor and, as a backstop, by the caller,
  which kills the whole process group.

A program counts as *completed* only if it ran to its last statement: the child then writes a
per-run secret to a pipe only the supervisor reads, so ``sys.exit(0)`` / ``os._exit(0)`` half way
through a test file is not mistaken for success.

The child program is the module ``sandbox_child.py``; its text is sent to the new interpreter with
``-c``, so the interpreter imports nothing from this package.
"""

from __future__ import annotations

import functools
import logging
import marshal
import math
import os
import secrets
import selectors
import signal
import site
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SandboxConfig", "SandboxResult", "run_python", "sandbox_capabilities"]

logger = logging.getLogger(__name__)

_CHUNK = 65536
# The supervisor needs a little time after the program's own wall limit to report; the caller's
# backstop waits this long more before killing the whole process group.
_BACKSTOP_GRACE_S = 15.0


@dataclass(frozen=True)
class SandboxConfig:
    """Limits and isolation switches for one sandboxed run.

    Attributes:
        wall_time_s: wall-clock limit for the program (the supervisor SIGKILLs it after this). It is
            generous because many runs share few cores; the CPU limit stops busy loops early.
        cpu_time_s: CPU-seconds limit per process (RLIMIT_CPU, whole seconds, SIGKILL when reached);
            ``None`` means ``wall_time_s``.
        memory_mb: address-space limit per process (RLIMIT_AS).
        max_processes: process/thread limit for the run's private uid (RLIMIT_NPROC).
        max_open_files: RLIMIT_NOFILE.
        max_file_mb: largest file the program may write (RLIMIT_FSIZE).
        tmpfs_mb: size of the private ``/tmp`` (working directory included).
        max_output_bytes: stdout and stderr are each cut at this size and the run is stopped.
        isolate_network: new network namespace (only a down loopback inside).
        isolate_pids: new PID namespace (the program is PID 1; all its processes die with it).
        isolate_filesystem: new mount namespace with private tmp dirs and hidden paths.
        drop_privileges: when running as root, run the program as a fresh unprivileged uid.
        hide_paths: extra directories to hide; always hidden: ``/root``, ``/home``, the project
            checkout (or this package inside site-packages) and the current directory.
        allow_site_packages: let the program import installed third-party packages (numpy, ...).
        uid_base: first uid of the per-run uid range (uid = base + supervisor pid).
        python: interpreter used for the run.
    """

    wall_time_s: float = 10.0
    cpu_time_s: float | None = 4.0
    memory_mb: int = 1024
    max_processes: int = 16
    max_open_files: int = 64
    max_file_mb: int = 16
    tmpfs_mb: int = 64
    max_output_bytes: int = 1 << 20
    isolate_network: bool = True
    isolate_pids: bool = True
    isolate_filesystem: bool = True
    drop_privileges: bool = True
    hide_paths: tuple[str, ...] = ()
    allow_site_packages: bool = True
    uid_base: int = 1_500_000_000
    python: str = sys.executable

    def __post_init__(self) -> None:
        if self.wall_time_s <= 0:
            raise ValueError(f"SandboxConfig.wall_time_s must be > 0 (got {self.wall_time_s!r})")
        if self.cpu_time_s is not None and self.cpu_time_s <= 0:
            raise ValueError(f"SandboxConfig.cpu_time_s must be > 0 or None (got {self.cpu_time_s!r})")
        for name in ("memory_mb", "max_processes", "max_open_files", "max_file_mb", "tmpfs_mb", "max_output_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxConfig.{name} must be > 0 (got {getattr(self, name)!r})")


@dataclass
class SandboxResult:
    """What happened to one sandboxed program.

    Attributes:
        completed: the program ran to its end (a ``sys.exit`` or crash part way does not count).
        exit_code: the program's exit status, ``None`` if it was killed by a signal.
        signal: the signal that killed it, if any.
        timed_out: killed for exceeding the wall-time limit (or the CPU limit: SIGXCPU/SIGKILL).
        output_limited: stopped because stdout or stderr exceeded ``max_output_bytes``.
        stdout: captured standard output (decoded leniently, cut at the cap).
        stderr: captured standard error (same).
        wall_s: wall-clock seconds of the program.
        cpu_s: CPU seconds used by the program and its reaped children.
        protections: which protections were actually in force for this run.
        error: set when the sandbox itself failed (the program's result is then unknown).
    """

    completed: bool
    exit_code: int | None
    signal: int | None
    timed_out: bool
    output_limited: bool
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    protections: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the program completed and exited with status 0."""
        return self.completed and self.exit_code == 0 and self.error is None


# Mount points the child covers with a private tmpfs (see sandbox_child.py).
_PRIVATE_MOUNTS = ("/tmp", "/var/tmp", "/dev/shm")


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _hidden_paths(config: SandboxConfig, expose: list[str]) -> tuple[str, ...]:
    """Directories to cover, never the Python installation the program needs (nor a parent of it
    that cannot be re-exposed): the project checkout, or just this package when it is installed
    inside site-packages."""
    package = str(Path(__file__).resolve().parents[1])
    project = str(Path(package).parent)
    own = package if any(_inside(project, e) for e in expose) else project
    wanted = {"/root", "/home", own, os.getcwd(), *config.hide_paths}
    keep = []
    for path in sorted({os.path.realpath(p) for p in wanted}):
        if path == "/" or (path != package and any(_inside(path, e) for e in expose)):
            continue
        keep.append(path)
    return tuple(keep)


def _python_dirs(config: SandboxConfig) -> list[str]:
    """Directories the program's interpreter must still see when parent directories are hidden."""
    dirs = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    dirs.add(os.path.realpath(os.path.dirname(os.path.dirname(config.python))))
    if config.allow_site_packages:
        dirs.update(os.path.realpath(p) for p in _site_dirs())
    dirs = {d for d in dirs if os.path.isdir(d)}
    # Keep only outermost directories: a bind mount of a parent already carries its children.
    return sorted(d for d in dirs if not any(d != o and d.startswith(o.rstrip("/") + "/") for o in dirs))


def _site_dirs() -> list[str]:
    paths = list(site.getsitepackages())
    return [p for p in paths if os.path.isdir(p)]


def _clean_env() -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
    }


def run_python(program: str, *, stdin: str = "", config: SandboxConfig | None = None) -> SandboxResult:
    """Run ``program`` (Python source) in a fresh sandbox and capture what it did.

    Args:
        program: the full Python source to execute as ``__main__``.
        stdin: text fed to the program's standard input.
        config: limits and isolation switches; the defaults suit unit-test style programs.

    Returns:
        A :class:`SandboxResult`. Failures of the program (errors, limits) are reported in it,
        never raised; ``result.error`` is set only when the sandbox machinery itself failed.

    Raises:
        TypeError: if ``program`` or ``stdin`` is not a string.
    """
    if not isinstance(program, str):
        raise TypeError(f"run_python: program must be a str (got {type(program).__name__})")
    if not isinstance(stdin, str):
        raise TypeError(f"run_python: stdin must be a str (got {type(stdin).__name__})")
    cfg = config or SandboxConfig()
    nonce = secrets.token_hex(16)
    use_private_tmp = cfg.isolate_filesystem
    expose = _python_dirs(cfg)
    covered = [d for d in expose for t in _PRIVATE_MOUNTS if _inside(d, t)] if use_private_tmp else []
    if covered:  # the child would not find its own interpreter: every program would "fail"
        return _failed(
            f"the sandbox interpreter's files are under {covered[0]!r}, which the sandbox replaces with a "
            f"private tmpfs ({', '.join(_PRIVATE_MOUNTS)}); install Python or the virtual environment "
            "elsewhere, or set SandboxConfig(isolate_filesystem=False)",
            time.monotonic(),
        )
    workdir = tempfile.mkdtemp(prefix="memreward_sbx_")
    status_r, status_w = os.pipe()
    header = {
        "program": program,
        "nonce": nonce,
        "status_fd": status_w,
        "workdir": workdir,
        "wall": float(cfg.wall_time_s),
        "cpu": int(max(1, math.ceil(cfg.cpu_time_s if cfg.cpu_time_s is not None else cfg.wall_time_s))),
        "as_bytes": int(cfg.memory_mb) << 20,
        "nproc": int(cfg.max_processes),
        "nofile": int(cfg.max_open_files),
        "fsize": int(cfg.max_file_mb) << 20,
        "tmpfs_mb": int(cfg.tmpfs_mb),
        "net": cfg.isolate_network,
        "pid": cfg.isolate_pids,
        "mnt": use_private_tmp,
        "drop": cfg.drop_privileges,
        "uid_base": int(cfg.uid_base),
        "hide": _hidden_paths(cfg, expose),
        "expose": tuple(expose),
        "site": tuple(_site_dirs()) if cfg.allow_site_packages else (),
    }
    blob = marshal.dumps(header)
    payload = len(blob).to_bytes(8, "little") + blob + stdin.encode("utf-8", "surrogateescape")
    # Like -I but without -E: the environment is built from scratch (_clean_env), and keeping it
    # lets us pin PYTHONHASHSEED so set iteration orders, hence results, are reproducible.
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []  # the child also drops "" from sys.path
    argv = [cfg.python, "-s", *safe_path, "-S", "-B", "-c", _CHILD_SOURCE]
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_w,),
            env=_clean_env(),
            cwd="/",
            start_new_session=True,
        )
    except OSError as exc:
        os.close(status_r)
        os.close(status_w)
        _remove_tree(workdir)
        return _failed(f"cannot start the sandbox interpreter {cfg.python!r}: {exc}", start)
    os.close(status_w)
    try:
        out, err, status, output_limited, backstop = _pump(proc, payload, status_r, cfg)
    finally:
        os.close(status_r)
        _remove_tree(workdir)
    return _build_result(out, err, status, output_limited, backstop, cfg, start)


def _failed(msg: str, start: float) -> SandboxResult:
    logger.error("sandbox failure: %s", msg)
    return SandboxResult(False, None, None, False, False, "", "", time.monotonic() - start, 0.0, {}, msg)


def _remove_tree(path: str) -> None:
    """Remove the per-run directory (files in it may belong to the run's uid; root can delete them)."""
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                pass
        for name in dirs:
            full = os.path.join(root, name)
            try:
                if os.path.islink(full):
                    os.unlink(full)
                else:
                    os.rmdir(full)
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError as exc:
        logger.warning("could not remove sandbox directory %s: %s", path, exc)


def _pump(
    proc: subprocess.Popen, payload: bytes, status_r: int, cfg: SandboxConfig
) -> tuple[bytes, bytes, bytes, bool, bool]:
    """Feed stdin, collect capped stdout/stderr and the supervisor's report, enforce the backstop."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    cap = cfg.max_output_bytes
    bufs = {"out": bytearray(), "err": bytearray(), "status": bytearray()}
    sel = selectors.DefaultSelector()
    os.set_blocking(proc.stdin.fileno(), False)
    sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, "in")
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "out")
    sel.register(proc.stderr.fileno(), selectors.EVENT_READ, "err")
    sel.register(status_r, selectors.EVENT_READ, "status")
    deadline = time.monotonic() + cfg.wall_time_s + _BACKSTOP_GRACE_S
    view = memoryview(payload)
    sent = 0
    output_limited = False
    backstop = False
    stop_requested = False
    open_reads = 3
    try:
        while open_reads:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                backstop = True
                _kill_group(proc)
                break
            for key, _ in sel.select(timeout=min(remaining, 1.0)):
                name = key.data
                if name == "in":
                    try:
                        sent += os.write(key.fd, view[sent : sent + _CHUNK])
                    except (BrokenPipeError, BlockingIOError, OSError):
                        sent = len(payload)
                    if sent >= len(payload):
                        sel.unregister(key.fd)
                        proc.stdin.close()
                    continue
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    sel.unregister(key.fd)
                    open_reads -= 1
                    continue
                buf = bufs[name]
                if name == "status" or len(buf) < cap:
                    buf += chunk
                if name != "status" and len(buf) >= cap and not stop_requested:
                    output_limited = True
                    stop_requested = True
                    # Ask the supervisor (it runs as root, the program cannot block this) to kill the run.
                    try:
                        proc.send_signal(signal.SIGTERM)
                    except ProcessLookupError:
                        pass
    finally:
        sel.close()
        if proc.stdin and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return bytes(bufs["out"][:cap]), bytes(bufs["err"][:cap]), bytes(bufs["status"]), output_limited, backstop


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _build_result(
    out: bytes, err: bytes, status: bytes, output_limited: bool, backstop: bool, cfg: SandboxConfig, start: float
) -> SandboxResult:
    report: dict[str, Any] = {}
    if status:
        try:
            report = marshal.loads(status)
        except (EOFError, ValueError, TypeError):
            report = {}
    wall = time.monotonic() - start
    text_out = out.decode("utf-8", "replace")
    text_err = err.decode("utf-8", "replace")
    if not isinstance(report, dict) or "exit" not in report:
        detail = text_err.strip().splitlines()[-1:] if text_err.strip() else []
        why = "killed by the backstop timer" if backstop else "no report from the sandbox supervisor"
        msg = f"{why}; stderr: {detail[0] if detail else '(empty)'}"
        return SandboxResult(
            False, None, None, backstop, output_limited, text_out, text_err, wall, 0.0, {}, None if backstop else msg
        )
    sig = report.get("signal")
    timed_out = bool(report.get("timeout")) or sig == signal.SIGXCPU
    if sig == signal.SIGKILL and not report.get("stopped") and not output_limited:
        timed_out = True  # a SIGKILL nobody here sent: the kernel's RLIMIT_CPU
    return SandboxResult(
        completed=bool(report.get("completed")) and not output_limited,
        exit_code=report.get("exit"),
        signal=sig,
        timed_out=timed_out,
        output_limited=output_limited or bool(report.get("stopped")),
        stdout=text_out,
        stderr=text_err,
        wall_s=float(report.get("wall", wall)),
        cpu_s=float(report.get("cpu", 0.0)),
        protections=dict(report.get("protections", {})),
    )


@functools.lru_cache(maxsize=8)
def _probe(config: SandboxConfig) -> dict[str, Any]:
    res = run_python("import os\nprint(os.getuid())\n", config=config)
    caps: dict[str, Any] = {"running_as_root": os.geteuid() == 0}
    caps.update(res.protections)
    caps["probe_ok"] = res.ok
    if res.error:
        caps["probe_error"] = res.error
    return caps


def sandbox_capabilities(config: SandboxConfig | None = None) -> dict[str, Any]:
    """Report which protections the sandbox actually achieves on this machine.

    A tiny program is run once (the answer is cached per config); the supervisor records each
    protection it managed to apply, so the report reflects this kernel, container and user.

    Args:
        config: the configuration to probe (default: :class:`SandboxConfig()`).

    Returns:
        A dict of protection name to ``True``/``False`` (or a value such as the uid used), plus
        ``running_as_root`` and ``probe_ok``.
    """
    return dict(_probe(config or SandboxConfig()))


# The supervisor + child program is its own module (sandbox_child.py), sent as source text to ``-c``.
_CHILD_SOURCE = (Path(__file__).resolve().parent / "sandbox_child.py").read_text(encoding="utf-8")
