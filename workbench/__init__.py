"""workbench: turn domain texts into a domain-expert LLM (corpus -> QA -> fine-tune -> evaluate -> chat)."""

__version__ = "0.1.0"
