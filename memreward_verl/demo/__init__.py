"""The offline CPU demo: a real tiny LLM, a real warm-up and GRPO through verl's own trainer, end to end."""

from memreward_verl.demo.run import DemoConfig, run_demo
from memreward_verl.demo.tasks import arithmetic_tasks
from memreward_verl.demo.tiny_llm import ensure_tiny_llm

__all__ = ["DemoConfig", "run_demo", "arithmetic_tasks", "ensure_tiny_llm"]
