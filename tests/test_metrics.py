"""Known-answer tests: each metric against its reference implementation, on English and Chinese pairs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workbench import metrics as m
from workbench import wordnet as wn

EN_PRED = ["The cat sat on the mat.", "Paris is the capital city of France.", "It was built in 1889 by Eiffel."]
EN_REF = ["The cat is sitting on the mat.", "The capital of France is Paris.", "Gustave Eiffel built it in 1889."]
ZH_PRED = ["北京是中国的首都。", "长城很长，有很多段。"]
ZH_REF = ["中国的首都是北京。", "长城非常长，分为很多段。"]


def _wordnet_installed() -> bool:
    try:
        wn.find_wordnet_source()
        return True
    except wn.WordNetUnavailable:
        return m._installed_nltk_wordnet() is not None


needs_wordnet = pytest.mark.skipif(not _wordnet_installed(), reason=f"WordNet missing: {wn.WORDNET_INSTALL_HINT}")


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty workbench cache, so WordNet provisioning starts from scratch."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    wn.wordnet_reader.cache_clear()
    yield tmp_path / "cache"
    wn.wordnet_reader.cache_clear()


def test_metric_modules_import_no_torch_or_gradio():
    code = ("import sys, workbench.metrics, workbench.gate, workbench.plots; "
            "bad = [x for x in ('torch', 'gradio', 'transformers') if x in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)


# --- language detection and tokenisation --------------------------------------------------------

def test_detect_lang():
    assert m.detect_lang(ZH_REF) == "zh"
    assert m.detect_lang(EN_REF) == "en"
    assert m.detect_lang(["用 GPU 训练模型非常快"]) == "zh"  # 8 CJK characters, 3 Latin letters
    assert m.detect_lang(["the GPU makes training fast 很快"]) == "en"
    assert m.tokenize("北京是首都", "zh") == ["北", "京", "是", "首", "都"]
    assert m.tokenize("Hello, World!", "en") == ["hello", ",", "world", "!"]


# --- sacreBLEU ------------------------------------------------------------------------------------

def test_sacrebleu_matches_reference_english():
    import sacrebleu

    ours = m.sacrebleu_corpus(EN_PRED, EN_REF)
    ref = sacrebleu.corpus_bleu(EN_PRED, [EN_REF], tokenize="13a")
    assert ours.score == pytest.approx(ref.score, abs=1e-9)
    assert "tok:13a" in ours.signature and "nrefs:1" in ours.signature


def test_sacrebleu_chinese_uses_zh_tokenizer():
    import sacrebleu

    ours = m.sacrebleu_corpus(ZH_PRED, ZH_REF)
    ref = sacrebleu.corpus_bleu(ZH_PRED, [ZH_REF], tokenize="zh")
    assert ours.score == pytest.approx(ref.score, abs=1e-9)
    assert ours.score > 10 and "tok:zh" in ours.signature
    # Without the Chinese tokenizer the same answers look like single unmatched words.
    assert sacrebleu.corpus_bleu(ZH_PRED, [ZH_REF], tokenize="13a").score < 1


# --- BLEU-4 (NLTK) --------------------------------------------------------------------------------

def test_bleu4_sentence_matches_nltk():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    ours = m.bleu4_sentences(EN_PRED, EN_REF)
    smooth = SmoothingFunction().method1
    for got, pred, ref in zip(ours, EN_PRED, EN_REF):
        want = sentence_bleu([m.tokenize(ref, "en")], m.tokenize(pred, "en"), smoothing_function=smooth)
        assert got == pytest.approx(want, abs=1e-12)
    assert m.bleu4_sentences(["the cat sat on the mat"], ["The cat sat on the mat"]) == [pytest.approx(1.0)]
    assert m.bleu4_sentences([""], ["The cat sat on the mat"]) == [0.0]


def test_bleu4_corpus_agrees_with_sacrebleu_when_no_ngram_order_is_empty():
    # Same tokens (13a, lower-cased) and every n-gram order has matches: NLTK and sacreBLEU must agree.
    import sacrebleu

    nltk_score = m.bleu4_corpus(EN_PRED, EN_REF)
    sacre = sacrebleu.corpus_bleu(EN_PRED, [EN_REF], tokenize="13a", lowercase=True).score / 100
    assert nltk_score == pytest.approx(sacre, abs=1e-9)
    zh = m.bleu4_corpus(ZH_PRED, ZH_REF)
    assert zh == pytest.approx(m.sacrebleu_corpus(ZH_PRED, ZH_REF).score / 100, abs=1e-9)
    assert zh > 0.1


# --- ROUGE ----------------------------------------------------------------------------------------

def test_rouge_matches_rouge_score_english():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for got, pred, ref in zip(m.rouge_sentences(EN_PRED, EN_REF), EN_PRED, EN_REF):
        want = scorer.score(ref, pred)
        assert got == {k: pytest.approx(want[k].fmeasure) for k in ("rouge1", "rouge2", "rougeL")}
    # Hand-computed: 3 of 3 predicted unigrams match 3 of 6 reference ones: F1 = 2 * 1 * 0.5 / 1.5.
    row = m.rouge_sentences(["the cat sat"], ["the cat sat on the mat"])[0]
    assert row["rouge1"] == pytest.approx(2 / 3) and row["rouge2"] == pytest.approx(2 * 0.4 / 1.4)


def test_rouge_chinese_is_character_level_not_zero():
    from rouge_score import rouge_scorer

    assert rouge_scorer.RougeScorer(["rouge1"]).score("中国的首都是北京", "北京是首都")["rouge1"].fmeasure == 0
    row = m.rouge_sentences(["北京是首都"], ["北京是中国的首都"])[0]
    # 5 predicted characters, all in the 8-character reference: P = 1, R = 5/8, F1 = 10/13; LCS is 5 too.
    assert row["rouge1"] == pytest.approx(10 / 13)
    assert row["rougeL"] == pytest.approx(10 / 13)
    assert row["rouge2"] == pytest.approx(2 * (3 / 4) * (3 / 7) / (3 / 4 + 3 / 7))  # 北京 京是 首都 of 4 and 7


# --- METEOR and WordNet ---------------------------------------------------------------------------

@needs_wordnet
def test_meteor_known_answers_from_nltk_docs():
    got = m.meteor_sentences(["on the mat sat the cat", "The cat was sat on the mat",
                              "creates or updates a virtual machine scale set"],
                             ["The cat sat on the mat", "The cat sat on the mat", "create or update a vm set"])
    assert got[0] == pytest.approx(0.5)
    assert [round(x, 4) for x in got[1:]] == [0.9654, 0.7806]


@needs_wordnet
def test_meteor_uses_wordnet_synonyms():
    # NLTK looks synonyms up after Porter stemming, so the pair must survive the stemmer: "auto" does.
    same, synonym, other = m.meteor_sentences(
        ["the car is red", "the auto is red", "the banana is red"], ["the car is red"] * 3)
    assert synonym == pytest.approx(same)  # car ~ auto through WordNet
    assert other < same


@needs_wordnet
def test_ensure_wordnet_provisions_cache_from_system_copy(cache):
    folder = wn.ensure_wordnet()
    assert folder == cache / "nltk_data" / "corpora" / "wordnet"
    assert (folder / "data.noun").stat().st_size > 1_000_000
    score = m.score_all(["the auto is red"], ["the car is red"], metrics=["meteor"])["meteor"]
    assert isinstance(score, float) and score > 0.9


def test_ensure_wordnet_copies_files_and_writes_lexnames(cache, tmp_path):
    src = tmp_path / "dict"
    src.mkdir()
    for name in wn.WORDNET_REQUIRED:
        (src / name).write_text(f"content of {name}\n")
    folder = wn.ensure_wordnet(src)
    assert (folder / "data.verb").read_text() == "content of data.verb\n"
    lines = (folder / "lexnames").read_text().splitlines()
    assert len(lines) == 45 and lines[5] == "05\tnoun.animal\t1" and lines[44] == "44\tadj.ppl\t3"
    assert wn.ensure_wordnet(tmp_path / "elsewhere") == folder  # already complete: nothing is read again


def test_meteor_without_wordnet_is_marked_unavailable(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("WNSEARCHDIR", str(tmp_path / "none"))
    monkeypatch.setattr(wn, "WORDNET_SOURCE_DIRS", ())
    monkeypatch.setattr(wn, "_installed_nltk_wordnet", lambda: None)
    with pytest.raises(wn.WordNetUnavailable, match="apt-get install wordnet-base"):
        wn.ensure_wordnet()
    scores = m.score_all(EN_PRED, EN_REF, metrics=["meteor", "rouge"])
    assert m.is_unavailable(scores["meteor"]) and "WordNet" in scores["meteor"]
    assert isinstance(scores["rougeL"], float)
    rows = m.per_example(EN_PRED, EN_REF, metrics=["meteor"])
    assert all(m.is_unavailable(r["meteor"]) for r in rows)


# --- fact accuracy --------------------------------------------------------------------------------

def test_extract_facts():
    assert m.extract_facts("Marie Curie received the Nobel Prize in 1903 and 1911.") == [
        "1903", "1911", "Marie Curie", "Nobel Prize"]
    assert m.extract_facts("The Eiffel Tower is 330 metres tall.") == ["330", "Eiffel Tower"]
    assert m.extract_facts("It costs 1,200 euros.") == ["1,200"]
    assert m.extract_facts("The launch was on 2024-03-01.") == ["2024-03-01"]
    assert m.extract_facts("It is called H2O, and 5km away.") == ["5", "H2O"]
    assert m.extract_facts("人口约2100万。") == ["2100"]
    assert m.extract_facts("blue") == ["blue"]
    assert m.extract_facts("北京") == ["北京"]
    assert m.extract_facts("it is mostly made of iron and some nickel") == []


@pytest.mark.parametrize(("prediction", "fact", "expected"), [
    ("The price is 1200 euros.", "1,200", True),
    ("It has twelve sides.", "12", True),
    ("It is 120 metres.", "12", False),
    ("about 3.0 kg", "3", True),
    ("Launched 2024-3-1 at noon", "2024-03-01", True),
    ("Launched on 1/3/2024", "2024-03-01", True),
    ("the eiffel tower", "Eiffel Tower", True),
    ("the Eiffel bridge", "Eiffel Tower", False),
    ("Parisian food", "Paris", False),
    ("The answer is four.", "4|four", True),
    ("首都是北京市", "北京", True),
    ("首都是上海", "北京", False),
])
def test_contains_fact(prediction, fact, expected):
    assert m.contains_fact(prediction, fact) is expected


def test_fact_accuracy_with_extraction_and_keys():
    preds = ["Curie won it in 1903 and again in 1911.", "Marie Curie won in 1903.", "It is blue.",
             "made of iron"]
    refs = ["Marie Curie received the Nobel Prize in 1903 and 1911.", "Marie Curie won the prize in 1903 and 1911.",
            "blue", "it is mostly made of iron and some nickel"]
    assert m.fact_hits(preds, refs) == [0.0, 0.0, 1.0, None]
    keys = [["Curie", "1903", "1911"], None, None, ["iron"]]
    assert m.fact_hits(preds, refs, keys) == [1.0, 0.0, 1.0, 1.0]
    assert m.fact_accuracy(preds, refs, keys) == pytest.approx(0.75)
    assert m.fact_accuracy(preds, refs) == pytest.approx(1 / 3)  # 3 scored, the 4th has no checkable fact
    assert m.is_unavailable(m.fact_accuracy(["x"], ["it is mostly made of iron and some nickel"]))


# --- score_all / per_example ----------------------------------------------------------------------

def test_score_all_shape_and_errors():
    scores = m.score_all(EN_PRED, EN_REF, metrics=["bleu4", "sacrebleu", "rouge", "fact_acc"])
    assert scores["n"] == 3 and scores["lang"] == "en"  # the cat sentence has no checkable fact: 2 scored
    for key in ("bleu4", "bleu4_corpus", "sacrebleu", "rouge1", "rouge2", "rougeL", "fact_acc"):
        assert isinstance(scores[key], float), key
    assert scores["fact_acc_n"] == 2 and scores["sacrebleu_signature"].startswith("nrefs:1")
    rows = m.per_example(EN_PRED, EN_REF, metrics=["rouge", "fact_acc"])
    assert len(rows) == 3 and set(rows[0]) == {"rouge1", "rouge2", "rougeL", "fact_acc"}
    assert scores["rougeL"] == pytest.approx(sum(r["rougeL"] for r in rows) / 3)
    assert m.numeric_scores(scores).keys() >= {"bleu4", "rougeL"} and "sacrebleu_signature" not in m.numeric_scores(
        scores)
    empty = m.score_all([], [], metrics=["bleu4"])
    assert empty["n"] == 0 and m.is_unavailable(empty["bleu4"])
    with pytest.raises(m.MetricInputError, match="2 predictions but 3 references"):
        m.score_all(EN_PRED[:2], EN_REF)
    with pytest.raises(m.MetricInputError, match="unknown metric"):
        m.score_all(EN_PRED, EN_REF, metrics=["bleu5"])
    by_output = m.score_all(EN_PRED, EN_REF, metrics=["rougeL", "bleu4_corpus"])  # output keys name their metric
    assert by_output["rougeL"] == scores["rougeL"] and by_output["bleu4"] == scores["bleu4"]
    with pytest.raises(m.MetricInputError, match="lang"):
        m.score_all(EN_PRED, EN_REF, metrics=["rouge"], lang="fr")


def test_score_all_chinese_is_not_zero():
    scores = m.score_all(ZH_PRED, ZH_REF, metrics=["bleu4", "sacrebleu", "rouge"])
    assert scores["lang"] == "zh"
    assert min(scores[k] for k in ("bleu4", "bleu4_corpus", "rouge1", "rouge2", "rougeL")) > 0.1
    assert scores["sacrebleu"] > 10


def test_eval_config_metric_names_match_registry():
    from workbench.config import EVAL_METRICS, ConfigError, EvalConfig

    assert tuple(m.METRICS) == EVAL_METRICS
    assert set(m.DEFAULT_METRICS) == set(EvalConfig().metrics)
    with pytest.raises(ConfigError, match="bleu5"):
        EvalConfig(metrics=["bleu4", "bleu5"])


def test_bertscore_minilm():
    same, para, other = m.bertscore_sentences(
        ["The cat sat on the mat.", "A cat was sitting on the mat.", "Interest rates rose sharply in May."],
        ["The cat sat on the mat."] * 3)
    assert same == pytest.approx(1.0, abs=1e-4)
    assert same > para > other
    scores = m.score_all(["The cat sat on the mat."], ["The cat sat on the mat."], metrics=["bertscore"])
    assert "all-MiniLM-L6-v2" in scores["bertscore_encoder"] and "layer 6" in scores["bertscore_encoder"]


# --- forgetting probe -----------------------------------------------------------------------------

def test_forgetting_probe_loads_and_answers_contain_their_keys():
    items = m.load_forgetting_probe()
    assert len(items) >= 35
    assert len({i["question"] for i in items}) == len(items)
    for item in items:
        assert item["keys"], item
        assert all(m.contains_fact(item["answer"], k) for k in item["keys"]), item
    assert m.fact_accuracy([i["answer"] for i in items], [i["answer"] for i in items],
                           [i["keys"] for i in items]) == 1.0


def test_forgetting_probe_errors(tmp_path):
    bad = tmp_path / "probe.jsonl"
    bad.write_text('{"question": "q"}\n')
    with pytest.raises(m.ProbeFileError, match="probe.jsonl:1"):
        m.load_forgetting_probe(bad)
    with pytest.raises(m.ProbeFileError, match="does not exist"):
        m.load_forgetting_probe(tmp_path / "missing.jsonl")
