"""Reading a document in a helper process with a time limit, so that no file can hold the app or the CLI.

A damaged or hostile file (a PDF whose page tree loops, HTML nested thousands deep, a .docx that inflates to
gigabytes) is read by one long-lived helper process; when a file takes longer than its limit the helper is
killed, the file is skipped with that reason, and the next file gets a fresh helper. The helper starts once
(about a second, it imports the readers) and is reused for every later file. Standard library only, plus
``corpus`` for the readers themselves.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import multiprocessing
import os
import threading

from . import corpus

READ_SECONDS = 60.0  # per file; the largest accepted file (50 MB of text) reads in a few seconds
READER = corpus.load_document  # run in the helper; a module-level function, so the helper can import it

_lock = threading.Lock()
_pool: cf.ProcessPoolExecutor | None = None


def _executor() -> cf.ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn, not fork: the app's process has threads (Gradio, torch) that a forked child would inherit
        _pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        atexit.register(_discard)  # end the helper before the interpreter tears its modules down
    return _pool


def _discard() -> None:
    """Kill the helper (a file outlived its limit, or the helper died); the next read starts a new one."""
    global _pool
    pool, _pool = _pool, None
    if pool is None:
        return
    for proc in list(getattr(pool, "_processes", {}).values()):  # the executor cannot cancel a running read
        proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


_CACHE_ENTRIES = 256
_cache: dict[tuple, corpus.Document] = {}


def load(path: str, max_bytes: int, source: str, seconds: float = READ_SECONDS) -> corpus.Document:
    """``corpus.load_document`` in the helper; DocumentSkipped when it fails or takes longer than ``seconds``.
    A file read before and unchanged since (same size and modification time) is not read again: each Data-tab
    refresh would otherwise parse the whole collection anew."""
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, max_bytes, source)
    with _lock:  # one read at a time: two Data-tab refreshes queue rather than start two helpers
        if key in _cache:
            return _cache[key]
        future = _executor().submit(READER, path, max_bytes, source)
        try:
            doc = future.result(timeout=seconds)
        except cf.TimeoutError:
            _discard()
            raise corpus.DocumentSkipped(f"reading took longer than {seconds:g} s (the limit per file); the file "
                                         "may be damaged or built to stall readers: convert it to text") from None
        except cf.process.BrokenProcessPool:
            _discard()
            raise corpus.DocumentSkipped("the reader process died on this file (out of memory?); it may be "
                                         "damaged: convert it to plain text") from None
        if len(_cache) >= _CACHE_ENTRIES:
            _cache.pop(next(iter(_cache)))
        _cache[key] = doc
        return doc
