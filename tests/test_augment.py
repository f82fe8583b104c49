"""Question word dropout (augment.py): what is dropped, what stays, and that the pairs change on each draw."""

import random

from workbench.augment import TrainExamples, drop_words

QUESTION = "How many people does the Brackwater Sound Harbour Authority employ in 2022?"


def test_names_numbers_and_the_question_word_always_stay():
    rng = random.Random(0)
    for _ in range(200):
        out = drop_words(QUESTION, 0.9, rng)
        words = out.rstrip("?").split()
        assert words[0] == "How" and out.endswith("?")
        assert all(name in words for name in ("Brackwater", "Sound", "Harbour", "Authority", "2022"))
        assert set(words) <= set(QUESTION.rstrip("?").split())


def test_common_words_are_dropped_at_about_the_rate_asked():
    rng = random.Random(1)
    common = ["many", "people", "does", "the", "employ", "in"]
    dropped = sum(w not in drop_words(QUESTION, 0.3, rng).rstrip("?").split() for _ in range(2000) for w in common)
    assert abs(dropped / (2000 * len(common)) - 0.3) < 0.02


def test_no_dropout_and_short_questions_are_left_alone():
    rng = random.Random(2)
    assert drop_words(QUESTION, 0.0, rng) == QUESTION
    assert drop_words("Who won?", 0.9, rng) == "Who won?"
    # a question of common words only keeps at least two
    assert len(drop_words("what is the cost of it?", 0.99, rng).split()) >= 2


def test_the_pairs_are_re_encoded_on_each_draw_and_the_other_examples_are_not():
    def encode(pair):
        return None if pair["question"].startswith("Skip") else {"question": pair["question"]}

    pairs = [{"question": QUESTION, "answer": "214."}, {"question": "Skip this long prompt?", "answer": "x"}]
    fixed = [{"input_ids": [1, 2, 3]}]
    ds = TrainExamples(fixed, pairs, encode, p=0.5, seed=3)
    assert len(ds) == 2  # the pair that encodes to nothing is left out, as encode_pairs leaves it out
    assert ds[1] is fixed[0]
    draws = [ds[0]["question"] for _ in range(20)]
    assert len(set(draws)) > 5 and all("Brackwater Sound Harbour Authority" in q for q in draws)
    # the same seed draws the same questions
    again = TrainExamples(fixed, pairs, encode, p=0.5, seed=3)
    assert [again[0]["question"] for _ in range(20)] == draws
