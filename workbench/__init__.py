"""workbench: turn domain texts into a domain-expert LLM (corpus -> QA -> fine-tune -> evaluate -> chat)."""

import os

# OpenMP threads that spin while they wait make two processes sharing the CPU cores (a training job and chat,
# a job and a test) run 10-40x slower: a 3-question answer on the tiny model beside a training job took 20.6 s
# with spinning threads and 0.7 s with passive ones. Set before torch loads; a user's own value wins.
# A worker process computes alone and must not wait passively (it costs it a third of its training speed):
# jobs.start gives it the user's own value, or none (OpenMP's default), which USER_OMP_WAIT_POLICY records.
USER_OMP_WAIT_POLICY = os.environ.setdefault("WORKBENCH_USER_OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", ""))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
