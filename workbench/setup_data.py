"""One-off preparation run by scripts/setup.sh: converts the default model's GGUF file into a cached
HF folder and builds the tiny test model, so that the first training run or test does not pay for it.
It downloads nothing."""

from __future__ import annotations

import logging
import time


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="setup: %(message)s")
    from . import models  # noqa: PLC0415 - keep `python -m workbench.setup_data --help`-free start cheap

    for alias in ("smollm2", "tiny"):
        t0 = time.time()
        path = models.resolve(alias)
        logging.info("model %s ready at %s (%.1f s)", alias, path, time.time() - t0)


if __name__ == "__main__":
    main()
