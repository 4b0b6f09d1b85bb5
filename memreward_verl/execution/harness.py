"""The program that runs one group's programs inside ONE sandbox process.

:func:`run_harness` sends the source of :mod:`~memreward_verl.execution.values` and of
:func:`_harness_main` to :func:`run_python` with the group's programs and inputs as JSON on stdin.
Inside the sandbox, the harness forks one short-lived worker per program (a few milliseconds, far
cheaper than a sandbox per program): the worker execs the program in a fresh namespace with
stdout/stderr sent to ``/dev/null`` and an empty stdin, then calls its solution function (a method
of ``class Solution`` on one instance, LeetCode style) on every input, each call under its own
interval timer, and reports canonical outputs. The harness kills a worker that overruns its
per-program wall limit (C-level loops ignore the timer), so a hung, crashing or ``os._exit``-ing
program costs only itself. Results stream to stdout one line per program, so when the sandbox
itself is stopped (group budget) the programs already done are not lost.

Outputs are reported in the canonical form of :func:`~memreward_verl.execution.values.canonical`
(texts over 300 characters hashed). A call that raises gives ``!ExceptionName``, one that overruns
``!Timeout``, a function whose parameters cannot bind the arguments ``!Arity``. A call returning
``None`` after mutating its arguments gives ``None;mut=<canonical arguments>`` (in-place solutions).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from memreward_verl.execution import values
from memreward_verl.execution.values import canonical, materialise, same_value, shorten
from memreward_verl.verify.sandbox import SandboxConfig, SandboxResult, run_python

__all__ = ["HarnessResult", "run_harness"]


@dataclass
class HarnessResult:
    """Raw per-program outcomes of one group (``None`` for programs the harness never reported).

    ``results[i]`` is a dict: ``status`` (``ok``, ``import_error``, ``no_function``, ``killed``,
    ``crashed``), ``error`` (exception name or reason), ``out`` (canonical output per input),
    ``pass`` (True/False/None per example: None when its expected value could not be evaluated).
    """

    results: list[dict[str, Any] | None]
    sandbox: list[SandboxResult] = field(default_factory=list)
    error: str | None = None
    budget_exceeded: bool = False
    wall_s: float = 0.0


def _harness_main() -> None:  # noqa: C901 - one self-contained program by design
    """Runs inside the sandbox after :mod:`~memreward_verl.execution.values`' source; standard library only."""
    import builtins
    import io
    import json
    import os
    import random
    import select
    import signal
    import sys
    import time

    payload = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    nonce = payload["nonce"]
    inputs = payload["inputs"]  # argument-list sources ("stdio": stdin texts)
    stdio = payload.get("mode") == "stdio"
    examples = payload["examples"]  # [input index, expected source, kind]
    call_s = float(payload["call_s"])
    import_s = float(payload["import_s"])
    program_s = float(payload["program_s"])
    max_timeouts = int(payload["max_timeouts"])
    out_fd = os.dup(1)

    class _Timeout(BaseException):
        pass

    def on_alarm(signum, frame):
        raise _Timeout()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGPROF, on_alarm)

    def arm(seconds):
        # A CPU-time timer (robust when many sandboxes share few cores) plus a wall-clock one at 4x
        # for calls that block; both re-fire every 50 ms, so a bare ``except:`` cannot swallow them.
        signal.setitimer(signal.ITIMER_PROF, seconds, 0.05)
        signal.setitimer(signal.ITIMER_REAL, 4 * seconds, 0.05)

    def disarm():
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.setitimer(signal.ITIMER_REAL, 0, 0)

    budget = [0]  # values visited by canonical(); reset before each value

    def pack(*args, **kwargs):
        return args, kwargs

    compiled_inputs = []
    for src in [] if stdio else inputs:
        try:
            compiled_inputs.append(compile("__mr_pack(" + src + ")", "<input>", "eval"))
        except BaseException:  # noqa: BLE001
            compiled_inputs.append(None)

    def fresh_args(j):
        code = compiled_inputs[j]
        if code is None:
            raise ValueError("bad input")
        return eval(code, {"__mr_pack": pack, "__builtins__": builtins})  # noqa: S307 - sandboxed

    def work(program, fn_name):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        sys.stdin = io.StringIO("")
        random.seed(0)
        res = {"status": "ok", "error": None, "out": [], "pass": [None] * len(examples)}
        ns = {"__name__": "__mr_program__", "__builtins__": builtins}
        try:
            code = compile(program, "solution.py", "exec")
            arm(import_s)
            try:
                exec(code, ns)  # noqa: S102 - sandboxed by design
            finally:
                disarm()
        except _Timeout:
            res.update(status="import_error", error="Timeout")
            return res
        except BaseException as exc:  # noqa: BLE001
            res.update(status="import_error", error=type(exc).__name__)
            return res
        fn = ns.get(fn_name)
        holder = ns.get("Solution")
        if not callable(fn) and isinstance(holder, type) and callable(getattr(holder, fn_name, None)):
            try:  # LeetCode style: the solution is a method, called on a fresh instance
                arm(import_s)
                try:
                    fn = getattr(holder(), fn_name)
                finally:
                    disarm()
            except BaseException as exc:  # noqa: BLE001
                res.update(status="import_error", error=type(exc).__name__)
                return res
        if not callable(fn):
            res.update(status="no_function", error=f"the program defines no function {fn_name!r}")
            return res
        try:
            sig = inspect_signature(fn)
        except BaseException:  # noqa: BLE001
            sig = None
        values = []
        timeouts = 0
        for j in range(len(inputs)):
            got = None
            if timeouts >= max_timeouts:
                res["out"].append("!Timeout")
                values.append((False, None))
                continue
            try:
                args, kwargs = fresh_args(j)
                before = None
                if sig is not None:
                    try:
                        sig.bind(*args, **kwargs)
                    except TypeError:
                        res["out"].append("!Arity")
                        values.append((False, None))
                        continue
                budget[0] = 0
                before = canonical((args, kwargs), budget)
                arm(call_s)
                try:
                    got = fn(*args, **kwargs)
                finally:
                    disarm()
                budget[0] = 0
                if hasattr(got, "__next__") and not isinstance(got, str | bytes):
                    arm(call_s)
                    try:
                        got = materialise(got)
                    finally:
                        disarm()
                    text = "iter" + canonical(got, budget)
                else:
                    text = canonical(got, budget)
                if got is None:
                    budget[0] = 0
                    after = canonical((args, kwargs), budget)
                    if after != before:
                        text = "None;mut=" + after
                res["out"].append(shorten(text))
                values.append((True, got))
            except _Timeout:
                timeouts += 1
                res["out"].append("!Timeout")
                values.append((False, None))
            except BaseException as exc:  # noqa: BLE001
                res["out"].append("!" + type(exc).__name__)
                values.append((False, None))
        for e, (j, expected, kind) in enumerate(examples):
            ok, got = values[j]
            if not ok:
                res["pass"][e] = False
                continue
            try:
                arm(call_s)
                try:
                    want = eval(expected, {"__builtins__": builtins})  # noqa: S307 - sandboxed
                    passed = same_value(got, want)
                finally:
                    disarm()
            except BaseException:  # noqa: BLE001
                want, passed = None, None
                if kind != "printed":
                    res["pass"][e] = None
                    continue
            if kind == "printed" and not passed:
                try:
                    passed = str(got).strip() == expected.strip()
                except BaseException:  # noqa: BLE001
                    passed = False
            res["pass"][e] = bool(passed)
        return res

    class CappedBytes(io.BytesIO):
        def write(self, b):
            if self.tell() + len(b) > 1 << 20:
                raise OverflowError("output over 1 MiB")
            return super().write(b)

    def run_script(code, data):
        """One run of a stdin program: ``data`` on fd 0 (a pipe), stdout captured; (printed, error)."""
        r, w = os.pipe()  # r is 0 itself when the previous run closed fd 0 (``open(0)`` closes it)
        os.write(w, data.encode("utf-8"))  # samples are capped below the pipe's buffer
        os.close(w)
        if r != 0:
            os.dup2(r, 0)
            os.close(r)
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "rb", closefd=False)), encoding="utf-8")
        buf = CappedBytes()
        sys.stdout = io.TextIOWrapper(buf, encoding="utf-8", newline="\n", write_through=True)
        error = None
        try:
            arm(import_s)
            try:
                exec(code, {"__name__": "__main__", "__builtins__": builtins})  # noqa: S102 - sandboxed
                import threading  # solutions that run main() in a thread (bigger stack) print from it

                for t in threading.enumerate():
                    if t is not threading.current_thread() and not t.daemon:
                        t.join()
            finally:
                disarm()
        except SystemExit as exc:
            if exc.code not in (None, 0):
                error = "!SystemExit"
        except _Timeout:
            error = "!Timeout"
        except BaseException as exc:  # noqa: BLE001
            error = "!" + type(exc).__name__
        try:
            sys.stdout.flush()
        except BaseException:  # noqa: BLE001
            error = error or "!OverflowError"
        printed = buf.getvalue().decode("utf-8", "replace")
        sys.stdout = sys.__stdout__
        return printed, error

    def work_stdio(program):
        """A stdin program (``mode: stdio``): run once per input; ``out`` is its whitespace-normalised
        stdout, ``stdout`` the text as printed (judged outside, as the code verifier judges)."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        random.seed(0)
        res = {"status": "ok", "error": None, "out": [], "pass": [None] * len(examples), "stdout": []}
        try:
            code = compile(program, "solution.py", "exec")
        except BaseException as exc:  # noqa: BLE001
            res.update(status="import_error", error=type(exc).__name__)
            return res
        timeouts = 0
        for data in inputs:
            if timeouts >= max_timeouts:
                printed, error = "", "!Timeout"
            else:
                printed, error = run_script(code, data)
                timeouts += error == "!Timeout"
            res["out"].append(error or shorten(" ".join(printed.split())))
            res["stdout"].append(None if error or len(printed) > 65536 else printed)
        return res

    import inspect  # imported once here, not in every forked worker

    # Modules solutions commonly import, loaded once before forking: a worker then finds them in
    # sys.modules instead of paying ~10 ms per program (typing alone costs that).
    for name in (
        "typing", "collections", "itertools", "functools", "re", "heapq", "bisect", "string", "operator",
        "fractions", "decimal", "statistics", "datetime", "copy", "dataclasses", "cmath", "array",
    ):  # fmt: skip
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001
            pass

    def inspect_signature(fn):
        return inspect.signature(fn)

    def emit(obj):
        data = (nonce + "\t" + json.dumps(obj) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(out_fd, view) :]

    for i in range(int(payload["start"]), len(payload["programs"])):
        program, fn_name = payload["programs"][i]
        if program is None:
            continue
        emit({"i": i, "start": True})
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the sandbox machinery
            code = 0
            try:
                os.close(r)
                os.close(out_fd)
                os.setpgid(0, 0)
                res = work_stdio(program) if stdio else work(program, fn_name)
                data = json.dumps(res).encode()
                view = memoryview(data)
                while view:
                    view = view[os.write(w, view) :]
            except BaseException:  # noqa: BLE001
                code = 3
            finally:
                os._exit(code)
        os.close(w)
        chunks = []
        deadline = time.monotonic() + program_s
        killed = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                killed = True
                break
            ready, _, _ = select.select([r], [], [], left)
            if not ready:
                continue
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        for target in (-pid, pid):  # the worker's group: also whatever the program forked
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
        _, status = os.waitpid(pid, 0)
        os.close(r)
        try:
            result = json.loads(b"".join(chunks).decode()) if not killed else None
        except ValueError:
            result = None
        if result is None:
            if killed:
                result = {"status": "killed", "error": f"over the per-program limit of {program_s:.1f}s"}
            else:
                sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                result = {
                    "status": "crashed",
                    "error": f"signal {sig}" if sig else f"exit {os.waitstatus_to_exitcode(status)}",
                }
        result["i"] = i
        emit(result)


# The sandboxed program: the value helpers (module-level names there), then the harness, then its call.
_HARNESS_SOURCE = "\n".join((inspect.getsource(values), inspect.getsource(_harness_main), "_harness_main()\n"))


def run_harness(
    programs: list[tuple[str | None, str | None]],
    inputs: list[str],
    examples: list[tuple[int, str, str]],
    *,
    call_s: float,
    import_s: float,
    program_s: float,
    max_timeouts: int,
    budget_s: float,
    sandbox: SandboxConfig,
    mode: str = "call",
) -> HarnessResult:
    """Run ``programs`` (``(code, function name)``; ``code=None`` skips) on ``inputs`` in the sandbox.

    ``mode="call"``: each input is an argument list of the solution function. ``mode="stdio"``: each
    input is the stdin of one run of the whole program as ``__main__`` (the function name is not
    used); each result then also holds ``stdout``, the text printed per input (``None`` on an error),
    and ``pass`` is left to the caller.

    One sandbox run normally covers the group. If the sandbox process dies part way (it should not:
    workers absorb program failures), the program it was on is marked ``crashed`` and a new sandbox
    resumes after it, while the group budget lasts; ``budget_exceeded`` is set when it ran out.
    """
    import time

    n = len(programs)
    results: list[dict[str, Any] | None] = [None] * n
    out = HarnessResult(results)
    start = 0
    t0 = time.monotonic()
    while start < n:
        left = budget_s - (time.monotonic() - t0)
        if left <= 0.5:
            out.budget_exceeded = True
            break
        nonce = secrets.token_hex(8)
        payload = {
            "nonce": nonce,
            "programs": programs,
            "inputs": inputs,
            "examples": [list(e) for e in examples],
            "call_s": call_s,
            "import_s": import_s,
            "program_s": program_s,
            "max_timeouts": max_timeouts,
            "start": start,
            "mode": mode,
        }
        cfg = dataclasses.replace(
            sandbox, wall_time_s=left, cpu_time_s=left, max_output_bytes=max(sandbox.max_output_bytes, 32 << 20)
        )
        res = run_python(_HARNESS_SOURCE, stdin=json.dumps(payload), config=cfg)
        out.sandbox.append(res)
        if res.error:
            out.error = f"sandbox failure: {res.error}"
            break
        running = None
        for line in res.stdout.splitlines():
            head, sep, body = line.partition("\t")
            if head != nonce or not sep:
                continue
            try:
                obj = json.loads(body)
            except ValueError:
                continue
            i = obj.pop("i", None)
            if not isinstance(i, int) or not 0 <= i < n:
                continue
            if obj.pop("start", False):
                running = i
            else:
                results[i] = obj
                running = None
        if res.ok:
            break
        if res.timed_out and time.monotonic() - t0 >= budget_s - 0.5:
            out.budget_exceeded = True
            break
        if running is None:  # died outside any program: the harness itself failed
            tail = res.stderr.strip().splitlines()[-1:] if res.stderr.strip() else ["(no stderr)"]
            out.error = f"the execution harness failed: {tail[0][:300]}"
            break
        results[running] = {"status": "crashed", "error": "the sandbox process died while running it"}
        start = running + 1
    out.wall_s = time.monotonic() - t0
    return out
