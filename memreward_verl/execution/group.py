"""Behavioural agreement of one group of code responses, and of many groups in parallel."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from memreward_verl.execution.examples import Example, prompt_entry_point, prompt_examples
from memreward_verl.execution.harness import run_harness
from memreward_verl.execution.inputs import generated_inputs
from memreward_verl.execution.response import ResponseProgram, parse_response
from memreward_verl.execution.stdio import STDIN_PROGRAM, reads_stdin, same_stdout, script_of, stdio_samples
from memreward_verl.verify.sandbox import SandboxConfig

__all__ = ["ExecutionConfig", "ProgramBehaviour", "GroupBehaviour", "run_group", "run_groups", "STATUSES"]

logger = logging.getLogger(__name__)

STATUSES = ("ok", "no_programs", "no_inputs", "sandbox_error", "budget_exceeded")
"""Group statuses: scores are set only for ``ok``."""


@dataclass(frozen=True)
class ExecutionConfig:
    """Limits and input choices of behavioural agreement.

    Attributes:
        call_time_s: CPU-time limit of one call of the solution function (interval timer in the
            worker; a wall-clock timer at 4x this catches calls that block instead of computing).
        import_time_s: wall limit for executing a program's top level (its definitions).
        program_time_s: hard wall limit per program (all its calls); the worker is killed after it,
            which also stops C-level loops the timer cannot interrupt.
        max_timeouts: after this many timed-out calls the program's remaining calls are not run
            (reported ``!Timeout``), so one slow program cannot eat the group budget.
        group_budget_s: wall budget of a whole group; when exceeded the group reports
            ``budget_exceeded`` (no scores).
        max_inputs: most inputs run per group (prompt examples first, then inputs with results
            stated by responses, then bare calls from responses, most frequent first, then generated).
        target_inputs: when fewer inputs than this were found, generated inputs fill up to it.
        generate_inputs: allow generated inputs at all (``False``: prompt and responses only).
        min_valid_share: an input not stated by the prompt is kept only if at least this share of
            the programs that ran return a value (no exception) on it.
        memory_mb: address-space limit of the sandbox (and of each forked worker).
        sandbox: isolation switches and other limits (its wall/CPU time and memory are overridden).
    """

    call_time_s: float = 0.25
    import_time_s: float = 2.0
    program_time_s: float = 6.0
    max_timeouts: int = 2
    group_budget_s: float = 150.0
    max_inputs: int = 24
    target_inputs: int = 12
    generate_inputs: bool = True
    min_valid_share: float = 0.5
    memory_mb: int = 1024
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)

    def __post_init__(self) -> None:
        for name in ("call_time_s", "import_time_s", "program_time_s", "group_budget_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"ExecutionConfig.{name} must be a positive number (got {value!r})")
        for name in ("max_timeouts", "max_inputs", "memory_mb"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ExecutionConfig.{name} must be an integer >= 1 (got {value!r})")
        if not isinstance(self.target_inputs, int) or not 0 <= self.target_inputs <= self.max_inputs:
            raise ValueError(
                f"ExecutionConfig.target_inputs must be an integer in [0, max_inputs={self.max_inputs}] "
                f"(got {self.target_inputs!r})"
            )
        if not 0.0 <= float(self.min_valid_share) <= 1.0:
            raise ValueError(f"ExecutionConfig.min_valid_share must be in [0, 1] (got {self.min_valid_share!r})")
        if self.program_time_s < self.import_time_s:
            raise ValueError(
                f"ExecutionConfig.program_time_s ({self.program_time_s}) must be >= "
                f"import_time_s ({self.import_time_s})"
            )
        if not isinstance(self.sandbox, SandboxConfig):
            raise TypeError(f"ExecutionConfig.sandbox must be a SandboxConfig (got {type(self.sandbox).__name__})")


@dataclass
class ProgramBehaviour:
    """What one response's program did, and its agreement scores (``None`` unless the group is ``ok``).

    Attributes:
        index: position of the response in the group.
        status: ``ok`` (ran; outputs recorded), ``no_code``, ``syntax_error``, ``no_function``,
            ``import_error`` (its top level raised or timed out), ``killed`` (over the per-program
            limit), ``crashed`` (the worker died), ``not_run`` (group not run).
        error: exception name or reason when ``status`` is not ``ok``.
        function: the solution function called (see ``parse_response`` for the rule).
        outputs: canonical output per kept input (``None`` when the program did not run).
        signature: short hash of ``outputs`` (``None`` when the program did not run or no inputs).
        cluster: behaviour cluster id, 0 = largest cluster of the group (``None`` without signature).
        cluster_share: size of its cluster / group size; 0 for a program that did not run or that
            raised on every input (a program that always fails agrees with nobody).
        prompt_pass: fraction of the prompt's stated examples it passes (``None``: the prompt states none).
        response_pass: fraction of the responses' stated examples it passes (``None``: none stated).
        dual_score: CodeT dual agreement: cluster size x stated examples the cluster passes,
            divided by the group maximum (when no cluster passes any example: the cluster size alone).
        combined: the documented combination (see :func:`combine`).
    """

    index: int
    status: str
    error: str | None = None
    function: str | None = None
    outputs: tuple[str, ...] | None = None
    signature: str | None = None
    cluster: int | None = None
    cluster_share: float | None = None
    prompt_pass: float | None = None
    response_pass: float | None = None
    dual_score: float | None = None
    combined: float | None = None


@dataclass
class GroupBehaviour:
    """Behavioural agreement of one group.

    Attributes:
        query_id: the group's id when known.
        status: one of :data:`STATUSES`; scores are filled only when ``ok``.
        error: why the group has no scores (for any status other than ``ok``).
        programs: one :class:`ProgramBehaviour` per response, in order (never dropped).
        inputs: argument-list sources that were kept (the signature's positions).
        input_sources: per kept input: ``prompt``, ``response`` or ``generated``.
        n_inputs_run: inputs run before the validity filter; ``n_inputs_dropped`` of them were removed.
        examples: stated examples on kept inputs (prompt and responses), deduplicated.
        n_clusters: number of distinct behaviours among programs that ran.
        wall_s: wall-clock seconds for the group (parsing + sandbox).
    """

    query_id: str | None
    status: str
    error: str | None
    programs: list[ProgramBehaviour]
    inputs: list[str] = field(default_factory=list)
    input_sources: list[str] = field(default_factory=list)
    n_inputs_run: int = 0
    n_inputs_dropped: int = 0
    examples: list[Example] = field(default_factory=list)
    n_clusters: int = 0
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def n_prompt_examples(self) -> int:
        return sum(ex.source == "prompt" for ex in self.examples)

    @property
    def n_response_examples(self) -> int:
        return sum(ex.source == "response" for ex in self.examples)

    def column(self, name: str) -> list[Any]:
        """One attribute of every program, in response order (e.g. ``column("dual_score")``)."""
        return [getattr(p, name) for p in self.programs]


def combine(share: float, dual: float, prompt_pass: float | None = None) -> float:
    """The combined score in [0, 1]: the geometric mean ``sqrt(cluster_share * dual_score)``, scaled
    by ``0.5 + 0.5 * prompt_pass`` when the prompt states examples (written by the task author, the
    strongest evidence). The raw share keeps how much the whole group agrees (comparable across
    groups); the dual score ranks within the group. On the benchmark sets this beat either alone,
    their arithmetic mean and a weighted mean with the pass fractions (benchmarks/bench_execution.py).
    """
    score = (max(share, 0.0) * max(dual, 0.0)) ** 0.5
    if prompt_pass is not None:
        score *= 0.5 + 0.5 * prompt_pass
    return score


def _key(args: str) -> str:
    return " ".join(args.split())


def _collect_inputs(
    question: str, parsed: list[ResponseProgram], cfg: ExecutionConfig
) -> tuple[list[str], list[str], list[tuple[int, Example]]]:
    """Inputs (argument sources), their sources, and the stated examples as (input index, example)."""
    p_examples = prompt_examples(question)
    prompt_pairs = {(_key(ex.args), ex.expected) for ex in p_examples}
    stated_by: Counter[str] = Counter()
    called_by: Counter[str] = Counter()
    r_examples: list[Example] = []
    for prog in parsed:
        seen_here: set[str] = set()
        for ex in prog.examples:
            k = _key(ex.args)
            if ex.expected is not None and (k, ex.expected) in prompt_pairs:
                continue  # the response repeats the prompt (HumanEval completions include it)
            if ex.expected is not None:
                r_examples.append(ex)
                if k not in seen_here:
                    stated_by[k] += 1
            if k not in seen_here:
                called_by[k] += 1
                seen_here.add(k)
    order: list[tuple[str, str]] = []
    seen: set[str] = set()
    for k, src in [(_key(ex.args), "prompt") for ex in p_examples]:
        if k not in seen:
            seen.add(k)
            order.append((k, src))
    for k, _ in sorted(stated_by.items(), key=lambda kv: (-kv[1], -called_by[kv[0]])):
        if k not in seen:
            seen.add(k)
            order.append((k, "response"))
    for k, _ in sorted(called_by.items(), key=lambda kv: -kv[1]):
        if k not in seen:
            seen.add(k)
            order.append((k, "response"))
    order = order[: cfg.max_inputs]
    if cfg.generate_inputs and len(order) < cfg.target_inputs:
        params = _reference_params(question, parsed)
        if params is not None:
            for k in generated_inputs(params, question, cfg.target_inputs - len(order)):
                k = _key(k)
                if k not in seen:
                    seen.add(k)
                    order.append((k, "generated"))
    index = {k: i for i, (k, _) in enumerate(order)}
    stated: list[tuple[int, Example]] = []
    pairs: set[tuple[int, str | None, str]] = set()
    for ex in p_examples + r_examples:
        i = index.get(_key(ex.args))
        if i is None or (i, ex.expected, ex.kind) in pairs:
            continue
        pairs.add((i, ex.expected, ex.kind))
        stated.append((i, ex))
    return [k for k, _ in order], [s for _, s in order], stated


def _reference_params(question: str, parsed: list[ResponseProgram]) -> list[tuple[str, str]] | None:
    """Parameters of the function the inputs are for: the prompt's entry point, else the most
    common arity among the group's programs (names and annotations of the first such program)."""
    entry = prompt_entry_point(question)
    with_fn = [p for p in parsed if p.function]
    if entry:
        for p in with_fn:
            if p.function == entry:
                return p.params
    if not with_fn:
        return None
    arity = Counter(len(p.params) for p in with_fn).most_common(1)[0][0]
    return next(p.params for p in with_fn if len(p.params) == arity)


def _failed_group(query_id, status, error, parsed, t0, **extra) -> GroupBehaviour:
    programs = [
        ProgramBehaviour(i, p.note if p.code is None or p.function is None else "not_run", p.note, p.function)
        for i, p in enumerate(parsed)
    ]
    return GroupBehaviour(query_id, status, error, programs, wall_s=time.monotonic() - t0, **extra)


def run_group(
    question: str,
    responses: Sequence[str],
    cfg: ExecutionConfig | None = None,
    *,
    query_id: str | None = None,
) -> GroupBehaviour:
    """Run every program of one group on inputs from the prompt and the responses; score agreement.

    Args:
        question: the prompt (a HumanEval prompt names the entry point; a prose MBPP prompt does not).
        responses: the group's response texts (chat answers or completions).
        cfg: limits (default :class:`ExecutionConfig()`).
        query_id: recorded in the result.

    Returns:
        A :class:`GroupBehaviour` with one entry per response; ``status`` says when the group could
        not be scored (no programs, no inputs, sandbox failure, budget exceeded) and ``error`` why.
    """
    cfg = cfg or ExecutionConfig()
    if isinstance(responses, str):
        raise TypeError("run_group: responses must be a sequence of strings, not one string")
    t0 = time.monotonic()
    entry = prompt_entry_point(question or "")
    samples = [] if entry else stdio_samples(question or "")
    if samples:
        scripts = [script_of(text or "") for text in responses]
        if sum(reads_stdin(c) for c in scripts) * 2 >= sum(c is not None for c in scripts) > 0:
            return _run_stdio_group(query_id, scripts, samples[: cfg.max_inputs], cfg, t0)
    parsed = [parse_response(text or "", entry, origin=i) for i, text in enumerate(responses)]
    runnable = [i for i, p in enumerate(parsed) if p.code is not None and p.function is not None]
    if not runnable:
        return _failed_group(query_id, "no_programs", "no response holds a runnable program", parsed, t0)
    inputs, sources, stated = _collect_inputs(question or "", parsed, cfg)
    if not inputs:
        return _failed_group(query_id, "no_inputs", "no inputs in the prompt or the responses", parsed, t0)
    programs = [(p.code, p.function) if i in runnable else (None, None) for i, p in enumerate(parsed)]
    return _execute(query_id, parsed, programs, inputs, sources, stated, cfg, t0)


def _execute(query_id, parsed, programs, inputs, sources, stated, cfg, t0, mode="call") -> GroupBehaviour:
    """Run the group's programs in one sandbox (``mode``: see :func:`run_harness`) and score them; a
    stdin program's samples are judged here, by the code verifier's stdin comparison."""
    run = run_harness(
        programs,
        inputs,
        [(i, ex.expected, ex.kind) for i, ex in stated],
        call_s=cfg.call_time_s,
        import_s=cfg.import_time_s,
        program_s=cfg.program_time_s,
        max_timeouts=cfg.max_timeouts,
        budget_s=cfg.group_budget_s,
        sandbox=SandboxConfig(**{**cfg.sandbox.__dict__, "memory_mb": cfg.memory_mb}),
        mode=mode,
    )
    if run.error or run.budget_exceeded:
        status = "sandbox_error" if run.error else "budget_exceeded"
        error = run.error or f"the group ran past its budget of {cfg.group_budget_s:.0f}s"
        logger.warning("execution group %s: %s", query_id, error)
        return _failed_group(query_id, status, error, parsed, t0, n_inputs_run=len(inputs))
    if mode == "stdio":
        for res in run.results:
            if res is not None and res.get("status") == "ok":
                printed = res.get("stdout") or [None] * len(inputs)
                res["pass"] = [printed[j] is not None and same_stdout(printed[j], ex.expected) for j, ex in stated]
    return _score(query_id, parsed, run.results, inputs, sources, stated, cfg, t0)


def _run_stdio_group(query_id, scripts, samples, cfg, t0) -> GroupBehaviour:
    """A group of stdin programs (the prompt states sample tests, most programs read stdin): each
    whole program runs once per sample input; its behaviour is what it prints, and a sample passes
    as a stdin test of the code verifier does (:func:`~memreward_verl.execution.stdio.same_stdout`)."""
    parsed = [
        ResponseProgram(code, STDIN_PROGRAM) if code is not None else ResponseProgram(None, note="no_code")
        for code in scripts
    ]
    inputs = [given for given, _ in samples]
    stated = [(j, Example(given, expected, "stdout", "prompt")) for j, (given, expected) in enumerate(samples)]
    programs = [(p.code, p.function) for p in parsed]
    return _execute(query_id, parsed, programs, inputs, ["prompt"] * len(inputs), stated, cfg, t0, mode="stdio")


def _score(query_id, parsed, results, inputs, sources, stated, cfg, t0) -> GroupBehaviour:
    n = len(parsed)
    progs: list[ProgramBehaviour] = []
    for i, p in enumerate(parsed):
        res = results[i]
        if p.code is None or p.function is None:
            progs.append(ProgramBehaviour(i, p.note or "no_code", p.note, p.function))
        elif res is None:
            progs.append(ProgramBehaviour(i, "not_run", "the harness did not report this program", p.function))
        else:
            progs.append(ProgramBehaviour(i, res.get("status", "crashed"), res.get("error"), p.function))
    ran = [i for i in range(n) if progs[i].status == "ok"]
    keep = []
    for j, src in enumerate(sources):
        valid = sum(not results[i]["out"][j].startswith("!") for i in ran)
        if src == "prompt" or (ran and valid / len(ran) >= cfg.min_valid_share):
            keep.append(j)
    kept_set = set(keep)
    examples = [(e, i, ex) for e, (i, ex) in enumerate(stated) if i in kept_set]
    group = GroupBehaviour(
        query_id,
        "ok",
        None,
        progs,
        inputs=[inputs[j] for j in keep],
        input_sources=[sources[j] for j in keep],
        n_inputs_run=len(inputs),
        n_inputs_dropped=len(inputs) - len(keep),
        examples=[ex for _, _, ex in examples],
    )
    if not keep:
        group.status, group.error = "no_inputs", "no input is accepted by enough of the programs"
        group.wall_s = time.monotonic() - t0
        return group
    sizes: Counter[str] = Counter()
    for i in ran:
        out = tuple(results[i]["out"][j] for j in keep)
        progs[i].outputs = out
        progs[i].signature = hashlib.sha1("\x1f".join(out).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        sizes[progs[i].signature] += 1
    cluster_ids = {sig: c for c, (sig, _) in enumerate(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])))}
    group.n_clusters = len(cluster_ids)
    n_prompt = sum(ex.source == "prompt" for _, _, ex in examples)
    n_resp = len(examples) - n_prompt
    raw: list[float] = [0.0] * n
    size_only: list[float] = [0.0] * n
    for p in progs:
        passes = results[p.index]["pass"] if p.status == "ok" else None
        if n_prompt:
            p.prompt_pass = sum(bool(passes and passes[e]) for e, _, ex in examples if ex.source == "prompt") / n_prompt
        if n_resp:
            p.response_pass = (
                sum(bool(passes and passes[e]) for e, _, ex in examples if ex.source == "response") / n_resp
            )
        if p.signature is None:
            p.cluster_share = 0.0
            continue
        p.cluster = cluster_ids[p.signature]
        degenerate = all(o.startswith("!") for o in p.outputs or ())
        size = 0 if degenerate else sizes[p.signature]
        p.cluster_share = size / n
        n_pass = sum(bool(passes[e]) for e, _, _ in examples)
        raw[p.index] = size * n_pass
        size_only[p.index] = float(size)
    basis = raw if max(raw) > 0 else size_only
    top = max(basis)
    for p in progs:
        p.dual_score = basis[p.index] / top if top > 0 else 0.0
        p.combined = combine(p.cluster_share, p.dual_score, p.prompt_pass)
    group.wall_s = time.monotonic() - t0
    return group


def run_groups(
    queries: Sequence[Any],
    cfg: ExecutionConfig | None = None,
    workers: int = 2,
    progress: bool = True,
) -> list[GroupBehaviour]:
    """:func:`run_group` over many groups, ``workers`` sandboxes at a time (threads; the work is in
    the sandbox processes). ``queries`` are :class:`~memreward_verl.rollouts.Query` objects (or any
    objects with ``question``, ``rollouts[*].text`` and ``query_id``). Results keep the input order;
    a group whose run raised is reported with status ``sandbox_error`` rather than dropped."""
    cfg = cfg or ExecutionConfig()
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"run_groups: workers must be an integer >= 1 (got {workers!r})")

    def one(q: Any) -> GroupBehaviour:
        texts = [r.text for r in q.rollouts]
        try:
            return run_group(q.question, texts, cfg, query_id=q.query_id)
        except Exception as exc:  # noqa: BLE001 - reported in the result, never dropped
            logger.exception("execution group %s failed", q.query_id)
            parsed = [ResponseProgram(None, note="not_run") for _ in texts]
            return _failed_group(q.query_id, "sandbox_error", f"{type(exc).__name__}: {exc}", parsed, time.monotonic())

    results: list[GroupBehaviour | None] = [None] * len(queries)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(queries), desc="execution groups", unit="group")
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(one, q): k for k, q in enumerate(queries)}
            from concurrent.futures import as_completed

            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [r for r in results if r is not None]
