"""Question-answer datasets from passages: generation (LLM or rules), filters, dataset folders, pipeline.

Import the submodules directly; this package imports nothing so that layer-2 users (filters, dataset)
never pull in torch through ``generate``.
"""
