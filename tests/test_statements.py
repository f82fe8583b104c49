"""The pairs' answers as plain-text statements (statements.py): distinct sentences, grouped by passage,
shuffled with the seed, cut to about a passage's length."""

from __future__ import annotations

from workbench import statements


def _pair(answer: str, passage: str) -> dict:
    return {"question": "q?", "answer": answer, "passage_id": passage}


def test_each_distinct_answer_appears_once_in_its_passages_texts():
    pairs = [_pair(f"The depot in district {i} opened in {1900 + i}.", f"p{i % 2}") for i in range(40)]
    pairs += [_pair("The depot in district 3 opened in 1903.", "p1"), _pair("1957.", "p0")]  # a repeat, a stub
    texts = statements.fact_texts(pairs, seed=1, max_chars=200)
    said = [s.strip() + "." for t in texts for s in t.split(".") if s.strip()]
    assert sorted(said) == sorted({p["answer"] for p in pairs[:40]})
    assert all(len(t) <= 200 for t in texts)
    first_half = [t for t in texts if "district 0 " in t or "district 2 " in t]
    assert all("district 1 " not in t for t in first_half)  # a text holds one passage's statements


def test_the_order_is_shuffled_by_the_seed_and_repeatable():
    pairs = [_pair(f"Fact number {i} is stated here.", "p0") for i in range(30)]
    a, b = statements.fact_texts(pairs, seed=1), statements.fact_texts(pairs, seed=1)
    c = statements.fact_texts(pairs, seed=2)
    assert a == b and a != c
    assert a[0] != " ".join(p["answer"] for p in pairs)[: len(a[0])]  # not the pairs' order


def test_a_sentence_longer_than_the_limit_stands_alone():
    long = "The " + "very " * 60 + "long statement ends here."
    texts = statements.fact_texts([_pair(long, "p0"), _pair("A short one stands here.", "p0")], max_chars=100)
    assert long in texts and len(texts) == 2
