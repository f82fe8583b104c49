"""One-off preparation run by scripts/setup.sh: converts the default model's GGUF file into a cached
HF folder and builds the tiny test model, so that the first training run or test does not pay for it.
It downloads nothing."""

from __future__ import annotations

import logging
import time


def provision_wordnet() -> None:
    """Copy the system's WordNet into the cache so METEOR works offline; warn, not fail, when it is absent."""
    from .wordnet import WordNetUnavailable, ensure_wordnet

    log, t0 = logging.getLogger(__name__), time.time()
    try:
        path = ensure_wordnet()
    except WordNetUnavailable as exc:
        log.warning("METEOR will be reported as unavailable: %s", exc)
        return
    log.info("WordNet ready at %s (%.1f s)", path, time.time() - t0)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="setup: %(message)s")
    from . import models

    for alias in ("smollm2", "tiny"):
        t0 = time.time()
        path = models.resolve(alias)
        logging.info("model %s ready at %s (%.1f s)", alias, path, time.time() - t0)
    provision_wordnet()


if __name__ == "__main__":
    main()
