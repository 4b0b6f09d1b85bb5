"""Run ``python -m verl.trainer.main_ppo`` as a child process and read back what verl logged.

verl's trainer owns its process (it starts a Ray cluster, parses hydra overrides from argv), so
the demo, the CI test and the benchmark run it exactly as a user would, log its output to a file,
and read verl's own records afterwards: the per-step metrics of its ``file`` logger and the
rollouts it dumps to ``trainer.rollout_data_dir``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memreward_verl.train.overrides import RunPaths

__all__ = ["TrainRun", "TrainerError", "run_main_ppo", "read_metrics", "read_rollouts", "last_checkpoint"]


class TrainerError(RuntimeError):
    """verl's trainer failed or timed out; the message ends with the tail of its log."""


@dataclass
class TrainRun:
    """What one ``main_ppo`` run left behind."""

    paths: RunPaths
    seconds: float
    log: Path

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.paths.metrics)

    def rollouts(self) -> dict[int, list[dict[str, Any]]]:
        return read_rollouts(self.paths.rollouts)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def run_main_ppo(overrides: list[str], paths: RunPaths, timeout_s: float, progress: bool = False) -> TrainRun:
    """Run verl's trainer with ``overrides``; its output goes to ``<out_dir>/main_ppo.log``.

    Args:
        overrides: hydra overrides (see :mod:`memreward_verl.train.overrides`).
        paths: the run's files; ``out_dir`` is created, what an earlier run left there is removed.
        timeout_s: the run (with every process it started) is killed after this long.
        progress: also echo verl's step lines ("step:N - ...") to stdout as they come.

    Raises:
        TrainerError: non-zero exit or timeout (the message names the log and shows its tail).
    """
    out = Path(paths.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous_run(paths)
    log = out / "main_ppo.log"
    # verl's file logger takes its path from the environment only (verl/utils/tracking.py)
    env = {**os.environ, "VERL_FILE_LOGGER_PATH": paths.metrics, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "verl.trainer.main_ppo", *overrides]
    (out / "command.txt").write_text(" \\\n  ".join(cmd) + "\n", encoding="utf-8")
    t0 = time.time()
    with open(log, "w", encoding="utf-8") as fh:
        # its own session: on timeout or interrupt the whole tree (Ray's processes too) is killed
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=out, start_new_session=True
        )
        reader = threading.Thread(target=_copy_output, args=(proc.stdout, fh, progress), daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout_s)  # bounded even when the child prints nothing (a hang)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            reader.join(timeout=30)
    if code is None:
        raise TrainerError(f"verl's main_ppo did not finish within {timeout_s:.0f} s; log {log}:\n{_tail(log)}")
    if code != 0:
        raise TrainerError(f"verl's main_ppo exited with code {code}; log {log}:\n{_tail(log)}")
    return TrainRun(paths=paths, seconds=time.time() - t0, log=log)


def _clear_previous_run(paths: RunPaths) -> None:
    """A rerun into the same folder starts afresh: no old metrics, rollout dumps, reward log or checkpoints
    (verl would resume from a checkpoint and train nothing; old dumps would read as this run's)."""
    Path(paths.metrics).unlink(missing_ok=True)
    Path(paths.reward_log).unlink(missing_ok=True)
    for folder in (paths.rollouts, paths.checkpoints):
        shutil.rmtree(folder, ignore_errors=True)


def _copy_output(stream, fh, progress: bool) -> None:
    for line in stream:
        fh.write(line)
        if progress and " step:" in line and " - " in line:
            print(_short_step_line(line), flush=True)
    fh.flush()


def _short_step_line(line: str) -> str:
    """verl's step line, reduced to the step, the validation accuracy and the reward mean."""
    step = line.split("step:", 1)[1].split(" ", 1)[0]
    keep = []
    for part in line.split(" - "):
        key = part.split(":", 1)[0].strip()
        if key.startswith("val-core/") or key in ("critic/score/mean", "timing_s/step"):
            value = part.split(":", 1)[1].strip().removeprefix("np.float64(").rstrip(")")
            keep.append(f"{key.split('/')[-2] if key.startswith('val-core') else key}={value}")
    return f"  [verl] step {step}: " + "  ".join(keep)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """verl's file-logger records: one dict per logged step, ``{"step": int, "data": {...}}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"verl wrote no metrics file at {path} (was trainer.logger given 'file'?)")
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{i}: not a JSON record ({exc})") from None
    return out


def read_rollouts(folder: str | Path) -> dict[int, list[dict[str, Any]]]:
    """verl's rollout dumps (``<step>.jsonl``: input, output, gts, score, step) by step."""
    folder = Path(folder)
    steps: dict[int, list[dict[str, Any]]] = {}
    for f in sorted(folder.glob("*.jsonl"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1):
        if f.stem.isdigit():
            steps[int(f.stem)] = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    return steps


def last_checkpoint(paths: RunPaths) -> Path | None:
    """The Hugging Face copy of the last saved actor (``global_step_N/actor/huggingface``), if any."""
    found = sorted(
        Path(paths.checkpoints).glob("global_step_*/actor/huggingface"), key=lambda p: int(p.parts[-3].split("_")[-1])
    )
    return found[-1] if found else None
