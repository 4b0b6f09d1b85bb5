"""A CPU rollout for verl 0.9's trainer: transformers ``generate`` behind verl's rollout-server interface.

verl's trainer always talks to a rollout *server* (vLLM, SGLang, TensorRT-LLM, all GPU-only). This
module supplies the three parts a rollout backend has, for ``actor_rollout_ref.rollout.name=cpu``:

* :class:`CPURolloutServer`, a Ray actor with the server's token-in/token-out ``generate``. It
  **batches** the requests that are pending (verl sends every rollout of a step as its own request)
  and samples as verl's vLLM rollout does: the request's temperature, top-p and top-k, no hidden
  top-k or repetition penalty, and none of the model's ``generation_config`` defaults;
* :class:`CPURolloutAdapter`, the trainer-side ``BaseRollout``: after every actor update verl hands it
  the new weights, which it loads into the server, so each step samples from the current policy;
* :class:`CPURolloutReplica`, which starts the server beside the trainer workers (hybrid mode).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ray
import torch
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutMode, RolloutReplica, TokenOutput

from memreward_verl.cpu.rollout_names import ROLLOUT_NAME
from memreward_verl.warmup.sampling import eos_ids, verl_generation_config

__all__ = ["CPURolloutServer", "CPURolloutAdapter", "CPURolloutReplica", "ROLLOUT_NAME", "server_name"]


def server_name(replica_rank: int) -> str:
    """The named Ray actor of a replica's server (one job per Ray namespace)."""
    return f"memreward_cpu_rollout_server_{replica_rank}"


@dataclass(frozen=True)
class _Params:
    """The sampling settings of one request; requests with equal settings share a ``generate`` call."""

    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    max_tokens: int
    logprobs: bool

    @classmethod
    def from_request(cls, params: dict[str, Any], max_tokens: int) -> _Params:
        known = {"temperature", "top_p", "top_k", "repetition_penalty", "logprobs", "max_tokens", "max_new_tokens"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"CPU rollout: unsupported sampling parameters {unknown} (supported: {sorted(known)})")
        limit = int(params.get("max_tokens", params.get("max_new_tokens", max_tokens)))
        temperature = float(params.get("temperature", 1.0))
        return cls(
            temperature=temperature,
            top_p=float(params.get("top_p", 1.0)),
            top_k=-1 if temperature == 0 else int(params.get("top_k", -1)),  # greedy ignores top_k, as vLLM does
            repetition_penalty=float(params.get("repetition_penalty", 1.0)),
            max_tokens=max(1, min(limit, max_tokens)),
            logprobs=bool(params.get("logprobs") or False),
        )


@dataclass
class _Request:
    prompt_ids: list[int]
    params: _Params
    future: asyncio.Future


class CPURolloutServer:
    """Token-in/token-out generation on CPU with batching (a plain class; made a Ray actor by the replica).

    Args:
        config: verl's rollout config (``RolloutConfig``): response length, seed, ``max_num_seqs`` (the
            largest batch), and ``engine_kwargs.cpu``: ``threads`` (torch threads; default all cores)
            and ``gather_window_s`` (how long the batcher waits after a request for more; 0.05).
        model_path: the policy's local Hugging Face folder (``model_config.local_path``).
        replica_rank: offsets the sampling seed, so replicas draw different samples (as vLLM's do).
    """

    def __init__(self, config: Any, model_path: str, replica_rank: int = 0) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        self.max_batch = max(1, int(config.max_num_seqs))
        opts = dict((config.engine_kwargs or {}).get(ROLLOUT_NAME) or {})
        unknown = sorted(set(opts) - {"threads", "gather_window_s"})
        if unknown:
            raise ValueError(
                f"actor_rollout_ref.rollout.engine_kwargs.{ROLLOUT_NAME}: unknown keys {unknown} "
                "(known: threads, gather_window_s)"
            )
        self.gather_window_s = float(opts.get("gather_window_s", 0.05))
        torch.set_num_threads(int(opts.get("threads") or os.cpu_count() or 1))
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=torch.float32, attn_implementation="sdpa"
        ).eval()
        # vLLM stops at the model's eos ids as well as the tokenizer's
        self.eos_ids = eos_ids(self.tokenizer.eos_token_id, self.model.generation_config.eos_token_id)
        if not self.eos_ids:
            raise ValueError(f"CPU rollout: the model at {model_path} defines no eos token")
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        self.seed = int(config.seed) + replica_rank
        self.global_steps: int | None = None
        self.weight_version = 0
        self.batches = 0
        self._weights_lock: asyncio.Lock | None = None  # a batch never samples from half-loaded weights
        self._pending: list[_Request] = []
        self._wake: asyncio.Event | None = None
        self._batcher: asyncio.Task | None = None

    # ---- generation ----------------------------------------------------------------------------
    async def generate(
        self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str, **multimodal: Any
    ) -> TokenOutput:
        """Sample one response for ``prompt_ids`` (batched with the other pending requests)."""
        media = {k: v for k, v in multimodal.items() if v is not None and k.endswith("_data")}
        if media:
            raise ValueError(f"CPU rollout: request {request_id} carries {sorted(media)}; only text is supported")
        params = _Params.from_request(sampling_params, int(self.config.response_length))
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher.done() or self._batcher.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._batcher = loop.create_task(self._batch_loop())
        request = _Request([int(t) for t in prompt_ids], params, loop.create_future())
        self._pending.append(request)
        self._wake.set()
        return await request.future

    def _lock(self) -> asyncio.Lock:
        if self._weights_lock is None:
            self._weights_lock = asyncio.Lock()
        return self._weights_lock

    async def _batch_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                await asyncio.sleep(self.gather_window_s)
                self._wake.clear()
                while self._pending:
                    await self._run_one_batch()
        finally:  # cancelled (shutdown) or broken: no caller waits forever
            for r in self._pending:
                if not r.future.done():
                    r.future.set_exception(RuntimeError("CPU rollout: the server's batcher stopped"))
            self._pending = []

    async def _run_one_batch(self) -> None:
        self._pending = [r for r in self._pending if not r.future.done()]  # callers that gave up
        if not self._pending:
            return
        params = self._pending[0].params
        batch = [r for r in self._pending if r.params == params][: self.max_batch]
        taken = {id(r) for r in batch}
        self._pending = [r for r in self._pending if id(r) not in taken]
        try:
            async with self._lock():
                outputs = await asyncio.to_thread(self._generate_batch, [r.prompt_ids for r in batch], params)
        except Exception as exc:  # every waiting request learns why; none is dropped silently
            for r in batch:
                if not r.future.done():
                    r.future.set_exception(exc)
            return
        for r, out in zip(batch, outputs):
            if not r.future.done():
                r.future.set_result(out)

    @torch.no_grad()
    def _generate_batch(self, prompts: list[list[int]], params: _Params) -> list[TokenOutput]:
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(prompts):  # left padding, as a decoder-only batch needs
            ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p) :] = 1
        torch.manual_seed(self.seed * 1_000_003 + self.batches)
        self.batches += 1
        gen_cfg = verl_generation_config(
            self.tokenizer,
            params.temperature,
            params.top_p,
            params.max_tokens,
            top_k=params.top_k,
            extra_eos_ids=self.eos_ids,
        )
        gen_cfg.repetition_penalty = params.repetition_penalty
        gen_cfg.pad_token_id = self.pad_id
        # generate() fills unset fields from the model's own config: make this request's config the model's
        self.model.generation_config = gen_cfg
        out = self.model.generate(
            input_ids=ids,
            attention_mask=mask,
            return_dict_in_generate=True,
            output_scores=params.logprobs,
        )
        new = out.sequences[:, width:]
        logprobs = None
        if params.logprobs:  # log-probabilities after temperature / top-p, as vLLM's processed_logprobs
            scores = torch.stack(out.scores, dim=1).float().log_softmax(-1)
            logprobs = scores.gather(-1, new[:, : scores.shape[1], None]).squeeze(-1)
        eos = set(self.eos_ids)
        results = []
        for i in range(len(prompts)):
            tokens = new[i].tolist()
            end = next((j + 1 for j, t in enumerate(tokens) if t in eos), len(tokens))
            tokens = tokens[:end]
            results.append(
                TokenOutput(
                    token_ids=tokens,
                    log_probs=logprobs[i, :end].tolist() if logprobs is not None else None,
                    stop_reason="completed",
                    extra_fields={"global_steps": self.global_steps, "weight_version": self.weight_version},
                )
            )
        return results

    # ---- weights -------------------------------------------------------------------------------
    async def load_weights(self, state: dict[str, torch.Tensor], global_steps: int | None = None) -> int:
        """Load the actor's current weights (Hugging Face names); returns the new weight version.

        ``global_steps`` is the trainer step these weights serve; every output is tagged with it.
        """
        own = self.model.state_dict()
        unknown = sorted(set(state) - set(own))
        if unknown:
            raise KeyError(f"CPU rollout: the actor sent weights the rollout model lacks: {unknown[:5]}")
        tied = {k for k in own if k not in state}
        if tied - self._tied_names():
            raise KeyError(f"CPU rollout: the actor sent no weights for {sorted(tied - self._tied_names())[:5]}")
        async with self._lock():  # waits for the batch in flight; the next one samples the new weights
            with torch.no_grad():
                for name, tensor in state.items():
                    own[name].copy_(tensor.to(own[name].dtype))
        self.weight_version += 1
        if global_steps is not None:
            self.global_steps = global_steps
        return self.weight_version

    def _tied_names(self) -> set[str]:
        """Parameters that share storage with another (e.g. a tied ``lm_head``): the actor may omit them."""
        seen: dict[int, str] = {}
        tied = set()
        for name, t in self.model.state_dict(keep_vars=True).items():
            ptr = t.data_ptr()
            if ptr in seen:
                tied.add(name)
            seen.setdefault(ptr, name)
        return tied

    # ---- the control surface verl's trainer calls on every rollout server ------------------------
    def get_server_address(self) -> tuple[str, int]:
        return ray.util.get_node_ip_address(), 0

    async def wake_up(self, tags: list[str] | None = None) -> None:
        return None

    async def sleep(self) -> None:
        return None

    async def clear_kv_cache(self) -> None:
        return None

    async def release_kv_cache(self) -> None:
        return None

    async def resume_kv_cache(self) -> None:
        return None

    async def abort_all_requests(self, reset_prefix_cache: bool = True, reject_request: bool = False) -> dict:
        # only verl's asynchronous trainer modes abort rollouts to swap weights mid-generation
        raise RuntimeError(
            "the CPU rollout supports verl's synchronous trainer only (trainer.v1.trainer_mode=sync); "
            "asynchronous modes abort and resume generation around weight updates, which it does not do"
        )

    def stats(self) -> dict[str, int | None]:
        """Batches run, weight version and step (for tests and logs)."""
        return {"batches": self.batches, "weight_version": self.weight_version, "global_steps": self.global_steps}


class CPURolloutAdapter(BaseRollout):
    """Trainer-side rollout: forwards the actor's weights to the CPU server after every update."""

    def __init__(self, config, model_config, device_mesh, replica_rank: int = -1) -> None:
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        world = self.config.tensor_model_parallel_size * self.config.data_parallel_size
        self.replica_rank = rank // world if replica_rank == -1 else replica_rank
        self.has_server = rank % world == 0
        self._server = None

    def _handle(self):
        if self._server is None:
            self._server = ray.get_actor(server_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None:
        return None

    async def release(self) -> None:
        return None

    async def update_weights(self, weights: Iterable, wire_format: str = "named_tensors", **kwargs: Any) -> None:
        if wire_format != "named_tensors":
            raise ValueError(f"CPU rollout: weight wire format {wire_format!r} is not supported (only named_tensors)")
        if kwargs.get("peft_config") is not None:
            raise ValueError("CPU rollout: LoRA adapters are not supported; train full weights")
        # every rank must walk the generator: it gathers sharded parameters collectively
        state = {name: t.detach().to("cpu", copy=True) for name, t in weights}
        if self.has_server:
            await self._handle().load_weights.remote(state, kwargs.get("global_steps"))


def _local_model_path(model_config: Any) -> str:
    """The policy's local folder (verl copies remote paths, e.g. hdfs://, to a local cache)."""
    from verl.utils.fs import copy_to_local

    local = model_config.get("local_path") if hasattr(model_config, "get") else None
    return local or copy_to_local(model_config.path)


class CPURolloutReplica(RolloutReplica):
    """One CPU rollout server per replica, beside the trainer workers it shares weights with."""

    async def init_colocated(self, resource_pool) -> None:
        raise ValueError("the CPU rollout runs only in verl's hybrid mode (rollout inside the actor workers)")

    async def init_standalone(self) -> None:
        raise ValueError("the CPU rollout runs only in verl's hybrid mode (rollout inside the actor workers)")

    async def launch_servers(self) -> None:
        if self.rollout_mode != RolloutMode.HYBRID:
            raise ValueError(f"the CPU rollout runs only in hybrid mode, not {self.rollout_mode}")
        if self.name_suffix:
            raise ValueError("the CPU rollout serves the policy only (not reward or teacher models)")
        actor = ray.remote(CPURolloutServer).options(
            name=server_name(self.replica_rank),
            num_cpus=0,  # it computes while the trainer waits for rollouts (time-shared, as in hybrid mode)
            max_concurrency=self.max_concurrency,
        )
        server = actor.remote(self.config, _local_model_path(self.model_config), self.replica_rank)
        host, _ = await server.get_server_address.remote()
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"{host}:cpu-rollout-{self.replica_rank}"
