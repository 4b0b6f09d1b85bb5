"""memreward_verl: experience-memory GNN rewards for verl when only some prompts are labelled."""

__version__ = "0.1.0"
