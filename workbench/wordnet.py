"""WordNet for METEOR's synonym matches and the question rules' word senses: found in the system's WordNet 3.0
package (or $WNSEARCHDIR), copied once into the cache folder where NLTK reads it, and opened as one cached
reader. Nothing is downloaded. Layer 2: the only files it writes are that copy.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from .errors import UserError
from .workspace import cache_dir

log = logging.getLogger(__name__)


class WordNetUnavailable(UserError, RuntimeError):
    """WordNet (needed by METEOR and by the question rules' word senses) is not installed."""



# Folders where a WordNet 3.0 database ("dict" folder) is found: Debian/Ubuntu's wordnet-base package and
# Princeton's default install prefix. $WNSEARCHDIR (WordNet's own variable) is tried first.
WORDNET_SOURCE_DIRS = (Path("/usr/share/wordnet"), Path("/usr/local/WordNet-3.0/dict"))
WORDNET_REQUIRED = ("data.adj", "data.adv", "data.noun", "data.verb", "index.adj", "index.adv", "index.noun",
                    "index.verb", "adj.exc", "adv.exc", "noun.exc", "verb.exc")
WORDNET_OPTIONAL = ("index.sense", "cntlist.rev")  # sense keys and tag counts; METEOR needs neither
WORDNET_INSTALL_HINT = ("install WordNet 3.0 with `apt-get install wordnet-base wordnet-sense-index` "
                        "(Debian/Ubuntu) or point $WNSEARCHDIR at a WordNet 'dict' folder, then run "
                        "`python -m workbench.setup_data`")
# WordNet 3.0's lexicographer files in file-number order (the `lexnames` file, documented in lexnames(5WN)).
# Debian's packages leave that file out; NLTK's reader needs it, so it is written from this list.
_LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
    "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
    "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant",
    "noun.possession", "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state",
    "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition", "verb.communication",
    "verb.competition", "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
_LEX_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def nltk_data_dir() -> Path:
    """The NLTK data folder the workbench provisions under its cache folder."""
    return cache_dir() / "nltk_data"


def wordnet_dir() -> Path:
    return nltk_data_dir() / "corpora" / "wordnet"


def lexnames_text() -> str:
    return "".join(f"{i:02d}\t{name}\t{_LEX_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES))


def _wordnet_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (*WORDNET_REQUIRED, "lexnames"))


def find_wordnet_source() -> Path:
    """The first folder holding a WordNet database: $WNSEARCHDIR, then ``WORDNET_SOURCE_DIRS``."""
    candidates = [Path(os.environ["WNSEARCHDIR"])] if os.environ.get("WNSEARCHDIR") else []
    candidates += list(WORDNET_SOURCE_DIRS)
    for folder in candidates:
        if all((folder / name).is_file() for name in WORDNET_REQUIRED):
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise WordNetUnavailable(f"WordNet is not installed (looked in {looked}); {WORDNET_INSTALL_HINT}")


def ensure_wordnet(source: Path | None = None) -> Path:
    """Make WordNet readable by NLTK under the cache folder and return that corpus folder.

    Copies the database files from ``source`` (default: ``find_wordnet_source()``) into
    ``<cache>/nltk_data/corpora/wordnet`` and writes the ``lexnames`` file NLTK needs. Copies, never
    links: NLTK refuses files that resolve outside its corpus folder. Downloads nothing; a second call
    returns at once. Raises WordNetUnavailable when no WordNet is installed.
    """
    target = wordnet_dir()
    if _wordnet_complete(target):
        return target
    src = Path(source) if source is not None else find_wordnet_source()
    missing = [name for name in WORDNET_REQUIRED if not (src / name).is_file()]
    if missing:
        raise WordNetUnavailable(f"{src} is not a WordNet database folder (missing {', '.join(missing)}); "
                                 f"{WORDNET_INSTALL_HINT}")
    tmp = target.with_name(f".wordnet.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in (*WORDNET_REQUIRED, *WORDNET_OPTIONAL):
        if (src / name).is_file():
            shutil.copyfile(src / name, tmp / name)
    (tmp / "lexnames").write_text(lexnames_text(), encoding="utf-8")
    (tmp / "SOURCE.txt").write_text(f"WordNet database files copied from {src}\n", encoding="utf-8")
    if target.exists():  # an incomplete copy left by an interrupted run
        shutil.rmtree(target)
    try:
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not _wordnet_complete(target):  # another process did not finish it either
            raise
    log.info("WordNet copied from %s to %s", src, target)
    return target


def use_nltk_data_dir() -> None:
    """Put the provisioned NLTK data folder on ``nltk.data.path``: NLTK reads corpora only from folders on
    that path, and ``nltk.corpus.wordnet`` then finds the copy as well."""
    import nltk.data

    folder = str(nltk_data_dir())
    if folder not in nltk.data.path:
        nltk.data.path.append(folder)


def _installed_nltk_wordnet() -> Any:
    """NLTK's own WordNet corpus when a user installed it in an NLTK data folder, else None."""
    import nltk.data

    try:
        return nltk.data.find("corpora/wordnet")
    except LookupError:
        return None


@functools.lru_cache(maxsize=1)
def wordnet_reader() -> Any:
    """An NLTK WordNet reader on the provisioned copy (or on NLTK's own WordNet data when only that exists).

    Loads in about 1.5 s, then stays cached. The reader skips NLTK's sense-key self-mapping, which only
    serves multilingual (Open Multilingual Wordnet) lookups, unused here, and would add about 5 s per load.
    Raises WordNetUnavailable when no WordNet is installed.
    """
    import warnings

    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _EnglishWordNet(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:
            return None

    try:
        root: Any = str(ensure_wordnet())
        use_nltk_data_dir()
    except WordNetUnavailable:
        root = _installed_nltk_wordnet()
        if root is None:
            raise
    with warnings.catch_warnings():  # "multilingual functions are not available": expected, none passed
        warnings.simplefilter("ignore", UserWarning)
        return _EnglishWordNet(root, None)
