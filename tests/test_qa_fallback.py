"""Rule-based question generation: known sentences give known questions; every sample passage gets a fact."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import corpus
from workbench.qa import fallback

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "sample_corpus"


def questions(sentence: str) -> list[str]:
    return [q for c in fallback.sentence_candidates(sentence) for q in c.questions]


def test_fronted_year_gives_when_and_what_questions():
    qs = questions("In 1998 the council approved the Eastwharf Renewal Plan.")
    assert "When did the council approve the Eastwharf Renewal Plan?" in qs
    assert "What did the council approve in 1998?" in qs


def test_trailing_date_passive_agent_and_named_subject():
    assert "When did the Vell Line tram open?" in questions("The Vell Line tram opened on 12 September 2009.")
    assert "Who designed the park?" in questions("The park was designed by the landscape practice Hollis Green.")
    assert "Who presented the plan to the council in October 1998?" in questions(
        "Councillor Ines Carraway presented the plan to the council in October 1998.")
    assert "When was the last section of the path finished?" in questions(
        "The last section of the path was finished in 2015.")


def test_numbers_and_copula():
    assert "How many historic warehouses did the plan keep?" in questions("The plan kept 23 historic warehouses.")
    assert "How many trees were planted?" in questions("About 1,400 trees were planted.")
    assert "What is the largest new public space in Eastwharf?" in questions(
        "Canal Park is the largest new public space in Eastwharf.")
    assert "Average rents in Eastwharf rose by what percentage between 2010 and 2020?" in questions(
        "Average rents in Eastwharf rose by 41 per cent between 2010 and 2020.")
    assert "Construction cost how much money?" in questions(
        "Construction cost 210 million pounds and took three years.")


def test_sentences_without_facts_or_not_declarative_give_nothing():
    assert questions("The weather was pleasant and everyone enjoyed the walk.") == []
    assert questions("Did the council approve the plan in 1998?") == []
    assert questions("Short 1998.") == []


@pytest.mark.parametrize("past,base", [
    ("approved", "approve"), ("planned", "plan"), ("carried", "carry"), ("built", "build"), ("opened", "open"),
    ("created", "create"), ("chaired", "chair"), ("focused", "focus"), ("developed", "develop"),
    ("agreed", "agree"), ("reduced", "reduce"), ("visited", "visit"), ("rose", "rise"), ("founded", "found"),
])
def test_base_form(past: str, base: str):
    assert fallback.base_form(past) == base


def test_paraphrases_keep_the_answer_and_differ_from_the_question():
    pair = fallback.passage_pairs(["In 1998 the council approved the Eastwharf Renewal Plan."], 1, 2)[0]
    assert pair["answer"] == "In 1998 the council approved the Eastwharf Renewal Plan."
    assert len(pair["paraphrases"]) == 2
    assert pair["question"] not in pair["paraphrases"]
    assert fallback.paraphrase_question("How many homes were built?") == [
        "What number of homes were built?", "How many homes were built, according to the text?"]


def test_deterministic():
    sentences = corpus.split_sentences((SAMPLE / "02_housing_and_transport.txt").read_text())
    assert fallback.passage_pairs(sentences, 5, 1) == fallback.passage_pairs(sentences, 5, 1)


def test_every_sample_passage_gets_a_fact_carrying_pair():
    report = corpus.ingest_files([SAMPLE])
    assert len(report.passages) >= 8
    for passage in report.passages:
        pairs = fallback.passage_pairs(corpus.split_sentences(passage.text), 3, 1)
        facts = [p for p in pairs if p["fact"] in p["answer"] and p["answer"] in passage.text
                 and fallback.find_facts(p["fact"])]
        assert facts, f"no fact-carrying pair for {passage.id}"
        assert all(p["question"].endswith("?") for p in pairs)


@pytest.mark.parametrize("fact,key", [
    ("in April 2001", "April 2001"),
    ("no more than 80 per cent", "80 per cent|80"),
    ("landscape practice Hollis Green", "landscape practice Hollis Green|Hollis Green"),
    ("Councillor Ines Carraway", "Councillor Ines Carraway|Ines Carraway"),
    ("the end of 2020", "end of 2020"),
    ("Canal Park", "Canal Park"),
    ("1998", "1998"),
])
def test_fact_key_strips_lead_ins_and_accepts_the_bare_name_or_number(fact: str, key: str):
    assert fallback.fact_key(fact) == key
