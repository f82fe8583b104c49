"""Filters: each drops the pair it should, says why, and scores every pair."""

from __future__ import annotations

import pytest
from rouge_score import rouge_scorer

from workbench.qa import filters
from workbench.qa.filters import FilterSettings, apply_filters

PASSAGE = ("In 1998 the city council approved the Eastwharf Renewal Plan. The Vell Line tram opened on "
           "12 September 2009 and has 11 stops. Canal Park covers 18 hectares.")
GOOD = {"id": "good", "question": "When did the Vell Line tram open?",
        "answer": "The Vell Line tram opened on 12 September 2009.", "passage_id": "p1"}


def run(*pairs: dict, **settings) -> filters.FilterReport:
    return apply_filters([dict(p) for p in pairs], {"p1": PASSAGE}, FilterSettings(**settings))


def dropped_by(report: filters.FilterReport) -> dict[str, tuple[str, str]]:
    return {p["id"]: (p["drop_filter"], p["drop_reason"]) for p in report.dropped}


def test_a_good_pair_is_kept_and_scored():
    report = run(GOOD)
    assert [p["id"] for p in report.kept] == ["good"] and not report.dropped
    scores = report.kept[0]["scores"]
    assert scores["grounding"] == 1.0 and scores["rouge_l_recall"] == 1.0
    assert scores["answer_novelty"] > 0 and scores["max_similarity"] == 0.0
    assert report.to_dict() == {"kept": 1, "dropped": 0, "dropped_by": dict.fromkeys(filters.FILTER_NAMES, 0)}


@pytest.mark.parametrize("pair,reason", [
    ({"question": "", "answer": "x"}, "empty question"),
    ({"question": "Q1: When did it open?", "answer": "In 2009."}, "template text"),
    ({"question": "Tell me about {passage}", "answer": "In 2009."}, "template text"),
    ({"question": "The tram opened", "answer": "In 2009."}, "not a question"),
    ({"question": "When did the tram open?", "answer": "The text does not say when."}, "refusal"),
])
def test_malformed(pair: dict, reason: str):
    report = run({"id": "bad", "passage_id": "p1", **pair}, GOOD)
    name, why = dropped_by(report)["bad"]
    assert name == "malformed" and reason in why
    assert [p["id"] for p in report.kept] == ["good"]


def test_length_bounds():
    long_answer = {"id": "long", "question": "What does Canal Park cover?", "passage_id": "p1",
                   "answer": "Canal Park covers 18 hectares. " * 30}
    short_q = {"id": "short", "question": "When?", "answer": "In 1998.", "passage_id": "p1"}
    report = run(long_answer, short_q, GOOD, max_answer_tokens=50)
    drops = dropped_by(report)
    assert drops["long"] == ("length", "answer has 150 tokens, outside 1-50")
    assert drops["short"] == ("length", "question has 1 tokens, outside 3-60")


def test_question_containing_its_answer():
    pairs = [{"id": "echo", "question": "Did the tram open on 12 September 2009?", "answer": "12 September 2009",
              "passage_id": "p1"},
             {"id": "nothing-new", "question": "When did the tram open in 2009?",
              "answer": "The tram did open in 2009.", "passage_id": "p1"}]
    drops = dropped_by(run(*pairs, GOOD))
    assert drops["echo"] == ("self_answer", "the question contains its own answer")
    assert drops["nothing-new"] == ("self_answer", "every word of the answer is already in the question")


def test_grounding_by_overlap_rouge_and_numbers():
    invented = {"id": "invented", "question": "Who opened the tram?", "passage_id": "p1",
                "answer": "The mayor Ines Carraway cut a ribbon with schoolchildren."}
    wrong_number = {"id": "number", "question": "How many stops has the tram?", "passage_id": "p1",
                    "answer": "The Vell Line tram has 14 stops."}
    drops = dropped_by(run(invented, wrong_number, GOOD))
    assert drops["invented"][0] == "grounded" and "of the answer is found in its passage" in drops["invented"][1]
    assert drops["number"] == ("grounded", "the answer states number(s) not in its passage: 14")
    # a number the reading resolved from the document (a year in the title-named subject) is grounded
    titled = {"id": "titled", "question": "How many stops has the Vell Line tram of 1998?", "passage_id": "p1",
              "answer": "The Vell Line tram of 1914 has stops.", "resolved": "the Vell Line tram of 1914"}
    assert run(titled).kept
    assert dropped_by(run({**titled, "resolved": ""}))["titled"] == (
        "grounded", "the answer states number(s) not in its passage: 1914")
    # Same words in another order: full token overlap, but a low ROUGE-L recall.
    shuffled = {"id": "shuffled", "question": "What happened to the tram?", "passage_id": "p1",
                "answer": "2009 September 12 on opened tram Line Vell The"}
    assert run(shuffled).kept
    assert dropped_by(run(shuffled, grounding_metric="rouge_l"))["shuffled"][0] == "grounded"


def test_near_duplicate_questions_but_not_close_paraphrases():
    near = {"id": "near", "question": "When did the Vell Line tram first open?", "passage_id": "p1",
            "answer": GOOD["answer"]}
    paraphrase = {"id": "para", "group": "good", "question": "On what date did the Vell Line tram open?",
                  "passage_id": "p1", "answer": GOOD["answer"]}
    copy = {"id": "copy", "group": "good", "question": "When did the Vell Line tram open ?", "passage_id": "p1",
            "answer": GOOD["answer"]}
    report = run(GOOD, near, paraphrase, copy)
    drops = dropped_by(report)
    assert drops["near"][0] == "dedup" and "'good'" in drops["near"][1]
    assert drops["copy"][0] == "dedup" and "paraphrase too close" in drops["copy"][1]
    assert [p["id"] for p in report.kept] == ["good", "para"]
    assert report.counts["dedup"] == 2


def test_rouge_l_matches_rouge_score():
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    pairs = [("When did the city council approve the plan?", "When was the plan approved by the city council?"),
             ("How many stops does the tram have?", "The tram line has eleven stops and runs six kilometres."),
             ("a b c d", "e f g")]
    for cand, ref in pairs:
        expected = scorer.score(ref, cand)["rougeL"]
        got = filters.rouge_l(filters.tokenize(cand), filters.tokenize(ref))
        assert got == pytest.approx((expected.precision, expected.recall, expected.fmeasure))


def test_chinese_is_tokenised_by_character():
    assert filters.tokenize("城市更新于1998年开始, 4,800 homes") == [
        "城", "市", "更", "新", "于", "1998", "年", "开", "始", "4800", "homes"]
    passage = "城市更新计划于1998年获得批准。新建住宅共4800套。"
    report = apply_filters([{"id": "zh", "question": "城市更新计划何时获得批准？", "answer": "1998年获得批准。",
                             "passage_id": "z"}], {"z": passage})
    assert report.kept and report.kept[0]["scores"]["grounding"] == 1.0
    recall = filters.rouge_l(filters.tokenize("新建住宅"), filters.tokenize("新建住宅共4800套"))[1]
    assert recall == pytest.approx(4 / 7)


HEADED = "Eastwharf Renewal\n" + PASSAGE + " It was designed by Maria Lund."


def test_an_answer_that_does_not_address_its_question_is_dropped():
    heading = {"id": "heading", "question": "How many stops does the Vell Line tram have?",
               "answer": "Eastwharf Renewal", "passage_id": "p1"}
    other_sentence = {"id": "other", "question": "Who approved the Eastwharf Renewal Plan?",
                      "answer": "Canal Park covers 18 hectares.", "passage_id": "p1"}
    pronoun = {"id": "pronoun", "question": "Who designed Canal Park?", "answer": "Maria Lund", "passage_id": "p1"}
    report = apply_filters([dict(heading), dict(other_sentence), dict(pronoun)], {"p1": HEADED}, FilterSettings())
    drops = dropped_by(report)
    assert drops["heading"][0] == "relevance" and "does not address the question" in drops["heading"][1]
    assert drops["other"][0] == "relevance"
    # "designed" is in the answer's sentence, "Canal Park" in the one before: one word of three passes 0.3.
    assert [p["id"] for p in report.kept] == ["pronoun"] and report.kept[0]["scores"]["relevance"] == 0.3333
    off = apply_filters([dict(heading)], {"p1": HEADED}, FilterSettings(min_relevance=0.0))
    assert [p["id"] for p in off.kept] == ["heading"]


def test_a_short_answer_reused_for_different_facts_keeps_only_the_most_relevant():
    tram = {"id": "tram", "question": "When did the tram open?", "answer": "12 September 2009", "passage_id": "p1"}
    stops = {"id": "stops", "question": "When were the tram stops built?", "answer": "12 September 2009",
             "passage_id": "p1"}
    reworded = {"id": "reworded", "group": "tram", "question": "On what date did the Vell Line start service?",
                "answer": "12 September 2009", "passage_id": "p1"}
    sentence = {"id": "sentence", "question": "How many stops does the Vell Line tram have?",
                "answer": GOOD["answer"] + " It has 11 stops.", "passage_id": "p1"}
    same_sentence = {"id": "same", "question": "What is the name of the tram line that opened in 2009?",
                     "answer": sentence["answer"], "passage_id": "p1"}
    report = run(stops, tram, reworded, sentence, same_sentence, min_relevance=0.0)
    drops = dropped_by(report)
    # "stops" came first, but "tram" shares more words with the sentence the date comes from.
    assert list(drops) == ["stops"] and drops["stops"][0] == "reused"
    assert "'When did the tram open?'" in drops["stops"][1]
    assert [p["id"] for p in report.kept] == ["tram", "reworded", "sentence", "same"]
    assert report.counts["reused"] == 1


def test_a_question_asked_with_two_different_answers_is_dropped_both_times():
    other = {"id": "other", "question": "when did the Vell Line  tram open?",
             "answer": "The Vell Line tram opened with 11 stops.", "passage_id": "p1"}
    same_clause = {"id": "same_clause", "question": GOOD["question"], "passage_id": "p1",
                   "answer": "On 12 September 2009 the Vell Line tram opened."}
    report = run(GOOD, other, min_relevance=0.0, min_grounding=0.0)
    assert dropped_by(report) == {"good": ("ambiguous", "the same question is asked with another answer"),
                                  "other": ("ambiguous", "the same question is asked with another answer")}
    assert report.counts["ambiguous"] == 2
    clause = GOOD["answer"]  # two wordings of one fact's answer state one clause: not ambiguous
    report = run({**GOOD, "clause": clause}, {**same_clause, "clause": clause}, min_relevance=0.0)
    assert report.counts["ambiguous"] == 0


def test_questions_about_two_different_facts_are_not_near_duplicates():
    answer = "The Vell Line tram was designed by Ada Quist and built by Orrin & Kell."
    designed = {"id": "designed", "question": "By whom was the Vell Line tram designed?", "passage_id": "p1",
                "answer": answer, "fact_id": "f-designed", "group": "designed"}
    built = {"id": "built", "question": "By which firm was the Vell Line tram built?", "passage_id": "p1",
             "answer": answer, "fact_id": "f-built", "group": "built"}
    # the items of one list ask the same question with the same answer sentence: one pair is enough
    again = {"id": "again", "question": "By which firm was the Vell Line tram built?", "passage_id": "p1",
             "answer": answer, "fact_id": "f-built-2", "group": "again"}
    kept, dropped = filters.dedup([designed, built, again], filters.FilterSettings())
    assert [p["id"] for p in kept] == ["designed", "built"]
    assert dropped[0]["id"] == "again" and "same question and answer" in dropped[0]["drop_reason"]
    without_facts = [{k: v for k, v in p.items() if k != "fact_id"} for p in (designed, built)]
    # model-written pairs carry no fact id: of two such look-alike questions one is kept
    assert len(filters.dedup(without_facts, filters.FilterSettings())[0]) == 1


def _lcs_by_table(a: list[str], b: list[str]) -> int:
    """The textbook dynamic programme the filter used before RapidFuzz: the reference its scores must equal."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def test_the_library_lcs_equals_the_dynamic_programme():
    import random

    rng = random.Random(7)
    words = ["the", "tram", "line", "opened", "in", "1990", "when", "did", "what", "x"]
    for _ in range(300):
        a = [rng.choice(words) for _ in range(rng.randint(0, 30))]
        b = [rng.choice(words) for _ in range(rng.randint(0, 30))]
        assert filters.lcs_length(a, b) == _lcs_by_table(a, b)


def test_the_phrase_placing_a_fact_at_the_documents_subject_does_not_count_against_relevance():
    """"at the Eastwharf Harbour Authority" is the reading's, not the sentence's, words: the pair keeps the
    relevance of the same question without them, and the same words typed by anyone else still count."""
    question = "How many stops does the Vell Line tram have at the Eastwharf Harbour Authority?"
    pair = {"id": "placed", "question": question, "answer": "The Vell Line tram has 11 stops.", "passage_id": "p1"}
    plain = filters.score_pair(dict(pair), PASSAGE)["relevance"]
    placed = filters.score_pair({**pair, "placed": "at the Eastwharf Harbour Authority"}, PASSAGE)["relevance"]
    bare = filters.score_pair({**pair, "question": "How many stops does the Vell Line tram have?"}, PASSAGE)
    assert placed == bare["relevance"] == 1.0 and plain < placed
