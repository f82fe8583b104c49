"""workbench: turn domain texts into a domain-expert LLM (corpus -> QA -> fine-tune -> evaluate -> chat)."""

import os

# OpenMP threads that spin while they wait make two processes sharing the CPU cores (a training job and chat,
# a job and a test) run 10-40x slower: a 3-question answer on the tiny model beside a training job took 20.6 s
# with spinning threads and 0.7 s with passive ones. Set before torch loads; a user's own value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
