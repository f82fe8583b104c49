"""Fact extraction and rewording on small fixtures: every fact of each sentence shape becomes pairs whose
questions name the resolved subject, in wordings that differ by more than a suffix; wrong facts are caught;
the default split withholds no fact; the ledger lists what was never asked."""

from __future__ import annotations

import json
import re

import pytest

from workbench.config import QAGenConfig
from workbench.qa import filters, ledger, naming, pipeline, rewrite
from workbench.qa import facts as fx
from workbench.qa.dataset import read_jsonl

pytest.importorskip("spacy")

DOC = """# The Orrin Valley Depot

The Orrin Valley Depot is a tram depot in the town of Selby Marsh. It was built by the firm Orrin & Kell in 1990.
In 2004 the depot added a second shed, which holds 24 trams. Its manager, Ada Pell, joined in 2011.
The depot employs 86 drivers, 12 fitters and 4 cleaners. She earns 41,000 pounds a year.
The old shed, which cost £2.3 million, became a museum in 2015.
"""


@pytest.fixture(scope="module")
def found() -> list[fx.Fact]:
    return fx.document_facts([{"id": "depot-0000", "source": "depot.md", "index": 0, "start": 0, "text": DOC}])


def _fact(found: list[fx.Fact], span: str) -> fx.Fact:
    matches = [f for f in found if f.span == span]
    assert matches, f"no fact asks for {span!r}; facts: {[f.span for f in found]}"
    return matches[0]


def _read(name: str, text: str) -> list[fx.Fact]:
    """The facts of one document of one passage."""
    return fx.document_facts([{"id": f"{name}-0000", "source": f"{name}.md", "index": 0, "start": 0, "text": text}])


def _bio(text: str) -> list[fx.Fact]:
    """The facts of a one-passage biography of Theodora Vask-Hallam that goes on with ``text``."""
    return _read("t", "# Theodora Vask-Hallam\n\nTheodora Vask-Hallam was a bridge engineer. " + text)


def _questions(found: list[fx.Fact], span: str) -> list[str]:
    qs = rewrite.questions(_fact(found, span))
    assert qs, f"no question survived for {span!r}"
    return qs


@pytest.mark.parametrize("span,shape,subject", [
    ("the firm Orrin & Kell", "pronoun + passive agent", "Orrin Valley Depot"),
    ("1990", "pronoun + time phrase at the end", "Orrin Valley Depot"),
    ("2004", "leading time phrase", "Orrin Valley Depot"),
    ("24 trams", "relative clause", "second shed"),
    ("Ada Pell", "apposition", "manager"),
    ("2011", "possessive pronoun + apposition", "Orrin Valley Depot"),
    ("86 drivers", "list, first item", "Orrin Valley Depot"),
    ("12 fitters", "list, middle item", "Orrin Valley Depot"),
    ("4 cleaners", "list, last item", "Orrin Valley Depot"),
    ("41,000 pounds a year", "person pronoun", "Ada Pell"),
    ("£2.3 million", "relative clause inside the subject", "old shed"),
    ("2015", "main clause after a relative clause", "old shed"),
])
def test_each_sentence_shape_gives_a_question_per_fact_naming_its_subject(found, span, shape, subject):
    questions = _questions(found, span)
    fact = _fact(found, span)
    assert subject.lower() in fact.answer.lower(), f"{shape}: the answer {fact.answer!r} does not name {subject}"
    for q in questions:
        # named, or called by what the text calls it ("the Orrin Valley Depot's manager" for Ada Pell)
        assert subject.lower() in q.lower() or "Ada Pell" in q or "Depot's manager" in q, \
            f"{shape}: {q!r} does not name {subject}"
        assert not re.search(r"\b(?:it|she|he|they)\b", q, re.IGNORECASE), f"{shape}: unresolved pronoun in {q!r}"
        assert rewrite.check_question(q, span) is None
    key = re.sub(r"^(?:the firm |in )", "", span)
    assert key.lower() in fact.answer.lower()


def test_a_fact_is_asked_from_each_of_its_sides(found):
    agent = _questions(found, "the firm Orrin & Kell")
    year = _questions(found, "1990")
    assert any(q.startswith(("Which organisation built", "What organisation built")) for q in agent)  # active
    assert any(q.startswith("By ") for q in agent)  # passive
    assert any(q.startswith("When was") for q in year)
    assert _questions(found, "Ada Pell") and _questions(found, "the Orrin Valley Depot's manager")  # both sides


def test_rewordings_of_one_fact_differ_by_more_than_a_suffix(found):
    checked = 0
    for fact in found:
        qs = rewrite.questions(fact)
        for i, a in enumerate(qs):
            for b in qs[i + 1:]:
                wa, wb = a.lower().rstrip("?").split(), b.lower().rstrip("?").split()
                assert wa[:len(wb)] != wb and wb[:len(wa)] != wa, f"{a!r} / {b!r}: one extends the other"
                assert set(wa) != set(wb) or wa[:2] != wb[:2], f"{a!r} / {b!r}: same words, same start"
                checked += 1
    assert checked > 30
    assert max(len(rewrite.questions(f)) for f in found) >= 3


def test_a_question_that_gives_its_answer_away_or_asks_nothing_is_refused():
    assert rewrite.check_question("When was the depot built in 1990?", "1990") == "gives the answer away"
    assert rewrite.check_question("The depot was built.", "1990") == "not a question"
    assert rewrite.check_question("When did she join the depot?", "2011") == "unresolved reference"
    assert rewrite.check_question("When did Ada Pell join the depot?", "2011") is None


def test_the_wrong_fact_check_drops_an_answer_naming_another_entity_of_the_passage():
    passage = ("The park was designed by Hollis Green. The tram line was planned by Ines Carraway in 2009. "
               "The museum opened in 2012.")
    wrong = {"question": "Who designed the park?", "answer": "Ines Carraway designed the park.", "keys": []}
    right = {"question": "Who designed the park?", "answer": "The park was designed by Hollis Green.",
             "keys": ["Hollis Green"]}
    wrong_year = {"question": "When did the museum open?", "answer": "The museum opened in 2009.", "keys": []}
    settings = filters.FilterSettings()
    assert filters.check_fact(wrong, passage, {}, settings)
    assert filters.check_fact(wrong_year, passage, {}, settings)
    assert filters.check_fact(right, passage, {}, settings) is None
    missing_key = {**right, "keys": ["Carraway"]}
    assert "key fact" in filters.check_fact(missing_key, passage, {}, settings)


def test_the_default_build_withholds_no_fact_and_writes_a_ledger(tmp_path):
    doc = tmp_path / "depot.md"
    doc.write_text(DOC)
    report = pipeline.build_dataset([doc], tmp_path / "ds", QAGenConfig())
    assert report["generator"] == "facts" and report["counts"]["kept"] > 30
    train = read_jsonl(tmp_path / "ds" / "train.jsonl")
    test = read_jsonl(tmp_path / "ds" / "test.jsonl")
    assert test, "the default split holds rewordings out"
    trained = {p["fact_id"] for p in train}
    assert all(p["fact_id"] in trained for p in test), "a test question asks a fact no training pair teaches"
    rows = ledger.read(tmp_path / "ds")
    assert rows and report["facts"]["facts"] == len(rows)
    for row in rows:
        assert row["asked"] == bool(row["train_pairs"])
        for pid in row["test_pairs"]:
            assert pid in {p["id"] for p in test}


def test_a_fact_is_also_asked_without_the_clauses_other_phrases(found):
    """Readers ask "In what year was X built?", not "... built by the firm Orrin & Kell?"."""
    year = _fact(found, "1990")
    assert "In what year was the Orrin Valley Depot constructed?" in rewrite.questions(year, short=True)
    long_only = rewrite.questions(year, 8)  # the default, as QAGenConfig.short_questions
    assert long_only and not [q for q in long_only if q.endswith("Depot constructed?")]
    subject = [f for f in found if f.role == "subject" and "became a museum" in f.answer][0]
    assert not any(q.startswith("Which shed became") and "2015" not in q
                   for q in rewrite.questions(subject, 8, short=True)), \
        "a subject asked by its verb alone fits any subject"


WALL = """# The North Quay

The North Quay wall collapsed in January 2020 during Storm Idris. The wall collapsed again in March 2021 after a
flood. The new wall was built by Halloran & Vesk in 2022.
"""


def test_an_adverb_before_the_verb_stays_with_the_verb():
    found = _read("wall", "# The North Quay\n\nThe North Quay wall partly collapsed in January 2020 during Storm "
                          "Idris. The ferry briefly grounded on the Whelk Shoal in thick fog.")
    questions = [q for f in found for q in rewrite.questions(f, 8)]
    assert "When did the North Quay wall partly collapse during Storm Idris?" in questions
    assert "What partly collapsed in January 2020 during Storm Idris?" in questions
    assert any(re.search(r"did the ferry .*briefly ground", q) for q in questions)
    assert not [q for q in questions if re.search(r"\b(?:partly|briefly)\?$", q, re.IGNORECASE)]
    assert not [q for q in questions if q.startswith(("Partly", "Briefly"))]
    said = [rewrite.statement(f) or "" for f in found]
    assert not [a for a in said if re.search(r"\b(?:partly|briefly)\.$", a)]


def test_a_question_two_facts_would_both_answer_is_not_taught(tmp_path):
    """Left without its phrases, "In what month and year did the North Quay wall collapse?" asks two facts."""
    doc = tmp_path / "wall.md"
    doc.write_text(WALL)
    pipeline.build_dataset([doc], tmp_path / "ds", QAGenConfig(short_questions=True))
    pairs = read_jsonl(tmp_path / "ds" / "train.jsonl") + read_jsonl(tmp_path / "ds" / "test.jsonl")
    questions = {p["question"] for p in pairs}
    assert "In what month and year did the North Quay wall collapse?" not in questions
    assert any("collapse during Storm Idris" in q and q.startswith("When") for q in questions)
    assert "In what year was the new North Quay wall constructed?" in questions  # one fact asks it: kept


def test_the_ledger_marks_an_unasked_fact_as_unasked(found):
    asked, unasked = found[0], found[1]
    train = [{"id": "p1", "fact_id": asked.id, "question": "q", "answer": "a"}]
    rows = ledger.build([asked, unasked], train, [])
    assert rows[0]["asked"] and not rows[1]["asked"]
    assert ledger.table(rows)[1][3] == "unasked"
    assert ledger.summary(rows) == {"facts": 2, "asked": 1, "unasked": 1, "held_out": 0, "pairs_per_fact": 0.5}
    prediction = {"id": "p1", "scores": {"base": {"fact_acc": 0.0}, "tuned": {"fact_acc": 1.0}}}
    marked = ledger.with_results(rows, [prediction])
    assert marked[0]["base_knew"] is None  # p1 is a training pair, not the held-out one
    rows[0]["test_pairs"] = ["p1"]
    marked = ledger.with_results(rows, [prediction])
    assert marked[0]["base_knew"] is False and marked[0]["tuned_answers"] is True
    json.dumps(marked)


LIFT = """# The Harrow Point Lift

The Harrow Point Lift is a funicular railway in the port of Harrow. It was designed by the engineer Mara Quist
and built by Dunmore, Pike & Sons of Lowbridge for the Harrow Lift Company.

## Track

The line is 140 metres long. It consists of two tracks of 1,067 mm gauge. Each car carries 16 passengers.
A typical ride takes 65 seconds.

## Water

Water for the system came from the Fenn Spring. It was lifted by a gas engine until 1950.
"""


@pytest.fixture(scope="module")
def lift() -> list[fx.Fact]:
    return fx.document_facts([{"id": "lift-0000", "source": "lift.md", "index": 0, "start": 0, "text": LIFT}])


def test_a_second_participle_shares_the_first_ones_auxiliary_and_keeps_a_long_firm_name(lift):
    built = _fact(lift, "Dunmore, Pike & Sons of Lowbridge")
    assert built.answer == ("The Harrow Point Lift was built by Dunmore, Pike & Sons of Lowbridge for the Harrow Lift "
                            "Company.")
    assert any(q.startswith(("Which organisation built", "What organisation built"))
               for q in _questions(lift, "Dunmore, Pike & Sons of Lowbridge"))


def test_a_role_noun_is_asked_with_who(lift):
    assert any(q.startswith("By whom was the Harrow Point Lift designed")
               for q in _questions(lift, "the engineer Mara Quist"))


def test_a_measure_is_asked_by_its_dimension_and_a_duration_by_how_long(lift):
    length = _questions(lift, "140 metres")
    assert "How long is the line of the Harrow Point Lift?" in length
    assert "What is the length of the line of the Harrow Point Lift?" in length
    ride = _questions(lift, "65 seconds")
    assert ride[0] == "How long does a typical ride of the Harrow Point Lift take?"
    assert not any(q.startswith("When") for q in ride)


def test_a_subject_without_an_owner_is_anchored_to_the_documents_subject(lift):
    assert _fact(lift, "16 passengers").subject.lower() == "each car of the harrow point lift"
    tracks = _fact(lift, "two tracks of 1,067 mm gauge")
    assert tracks.answer.startswith("The line of the Harrow Point Lift consists of")


def test_it_after_a_sentence_about_another_thing_means_that_thing_within_a_paragraph(lift):
    engine = _fact(lift, "a gas engine")
    assert engine.subject == "water for the system of the Harrow Point Lift"
    # the first paragraph's "It" (no other subject before it) is the document's subject
    assert _fact(lift, "the engineer Mara Quist").subject == "the Harrow Point Lift"


def test_a_heading_does_not_shift_the_paragraph_after_it(lift):
    # a heading's line break used to start the next paragraph with a space, which hid its first word
    assert _fact(lift, "140 metres").subject.lower() == "the line of the harrow point lift"


def test_it_means_the_nearest_subject_of_the_sentence_before():
    text = ("# The Vell Line\n\nThe Vell Line is a tram line in Selby Marsh. Construction began in 1988, and the line "
            "opened on 3 June 1990. In its first year it carried 61,240 passengers.\n")
    found = fx.document_facts([{"id": "v-0", "source": "v.md", "index": 0, "start": 0, "text": text}])
    carried = _fact(found, "61,240 passengers")
    assert carried.subject.lower() == "the vell line", carried.answer  # "the line" is the document's subject


def test_work_means_the_activity_named_before_and_a_name_is_asked_by_its_description():
    """"Work" and "most of this work" name the paragraph's last activity ("the resurfacing of Dock Road",
    "channel dredging"), not "work of <the document's subject>"; a name described in its sentence ("the Marle
    Gull, a grab dredger") is asked with that noun, not with the tagger's "place"."""
    text = ("# Selby Marsh Harbour Board\n\nThe Selby Marsh Harbour Board runs the port of Selby Marsh. Its main "
            "project this year was the resurfacing of Dock Road. Work began in March 2021 and ended in June 2021."
            "\n\nChannel dredging removed 4,000 tonnes of mud. Most of this work was carried out by the Marle Gull, "
            "a grab dredger that the board bought in 1999. The work of the divers was praised.\n")
    found = fx.document_facts([{"id": "s-0", "source": "s.md", "index": 0, "start": 0, "text": text}])
    began = _fact(found, "March 2021")
    assert began.answer.startswith("The resurfacing of Dock Road began in March 2021"), began.answer
    gull = _fact(found, "the Marle Gull")
    assert gull.answer.startswith("Most of the channel dredging was carried out by the Marle Gull"), gull.answer
    asked = rewrite.questions(gull, 6)
    assert any(q.startswith("Which dredger") or "which dredger" in q for q in asked), asked
    assert not any("place" in q for q in asked), asked
    praised = [f for f in found if "praised" in f.answer]
    assert praised and all("work of the divers" in f.answer.lower() for f in praised)  # names its own owner
    thing = ("# Selby Marsh Harbour Board\n\nThe Selby Marsh Harbour Board runs the port. The new structure was "
             "designed by Ada Pell. Work began in March 2021.\n")
    began = _fact(fx.document_facts([{"id": "t-0", "source": "t.md", "index": 0, "start": 0, "text": thing}]),
                  "March 2021")
    assert "structure began" not in began.answer, began.answer  # a structure is a thing, not an activity


def test_the_doer_is_also_asked_by_its_noun_and_in_the_active_voice(lift):
    from workbench.qa import lexicon
    if lexicon._wordnet() is None:
        pytest.skip("WordNet is not installed: doer nouns come from it")
    designed = _questions(lift, "the engineer Mara Quist")
    assert "Who was the designer of the Harrow Point Lift?" in designed
    assert any(q.startswith(("Who designed", "Which engineer designed")) for q in designed)


BIO = """# Mara Quill

Mara Quill (4 May 1911 – 19 June 1980) was a surveyor and author.
Her best-known work, the Harlow Aqueduct, opened in 1950.
Its main arch of 64 metres was then the widest in the region. The new weir, 212 metres long, was built in 1952.
Beneath the canal is a cistern with a capacity of 9,500 litres.
A bust of her by the sculptor Ivo Brandt stands in the town hall.
The aqueduct was closed from 1961 to 1964. The engineers chose granite over brick because of the frost.
"""


@pytest.fixture(scope="module")
def bio() -> list[fx.Fact]:
    return fx.document_facts([{"id": "bio-0000", "source": "bio.md", "index": 0, "start": 0, "text": BIO}])


def test_a_life_span_in_brackets_gives_birth_and_death(bio):
    born, died = _fact(bio, "4 May 1911"), _fact(bio, "19 June 1980")
    assert born.answer == "Mara Quill was born on 4 May 1911." and died.answer == "Mara Quill died on 19 June 1980."
    assert "When was Mara Quill born?" in rewrite.questions(born)
    assert "When did Mara Quill die?" in rewrite.questions(died)
    # the dates in brackets are no name for the person: no question calls her "4 May 1911"
    assert not any("4 May" in q for f in bio for q in rewrite.questions(f) if f.role not in ("born", "died"))


def test_a_measure_inside_a_noun_phrase_is_asked_for_its_owner(bio):
    arch, weir, cistern = _fact(bio, "64 metres"), _fact(bio, "212 metres"), _fact(bio, "9,500 litres")
    assert "How long was the Harlow Aqueduct's main arch?" in rewrite.questions(arch)  # "its" is the aqueduct
    assert any(q.startswith("How long was the new weir") for q in rewrite.questions(weir))
    assert any(q.startswith("What is the capacity of a cistern") for q in rewrite.questions(cistern))
    assert "9,500 litres" in cistern.answer and "with a capacity" not in cistern.subject


def test_a_measure_each_of_a_plural_has_is_asked_for_each():
    doc = ("# The Tarn Gill Lift\n\nThe Tarn Gill Lift is a cliff railway in Selby Marsh. The two cars are joined "
           "by two steel cables, each 32 millimetres in diameter. Its track was laid on two piers of granite, "
           "each 14 metres tall.\n")
    found = fx.document_facts([{"id": "lift-0000", "source": "lift.md", "index": 0, "start": 0, "text": doc}])
    cable, pier = _fact(found, "32 millimetres"), _fact(found, "14 metres")
    assert cable.answer.startswith("The diameter of each of the two steel cables")
    assert " is 32 millimetres" in cable.answer
    assert any(q.startswith("How many millimetres across is each of the two steel cables") for q in
               rewrite.questions(cable, 6))
    assert all("in diameter" not in q for q in rewrite.questions(cable, 6))  # the unit is not said twice
    assert any(q.startswith("How tall was each of the two piers of granite") for q in rewrite.questions(pier))


def test_an_amount_inside_a_phrase_is_also_asked_with_its_phrase_fronted():
    doc = ("# The Tarn Gill Lift\n\nThe Tarn Gill Lift is a cliff railway in Selby Marsh. The rebuilding of the upper "
           "station finished in May 2019 at a cost of £1.2 million. In 1953 Selby Council bought the lift for "
           "£8,750.\n")
    found = fx.document_facts([{"id": "lift-0000", "source": "lift.md", "index": 0, "start": 0, "text": doc}])
    cost = rewrite.questions(_fact(found, "£1.2 million"), 6)
    assert "What was the cost of the rebuilding of the upper station?" in cost
    assert "How much did the rebuilding of the upper station cost?" in cost
    assert any(q.startswith("At a cost of how much did the rebuilding of the upper station finish") for q in cost)
    bought = rewrite.questions(_fact(found, "8,750"), 6)
    assert any(q.startswith("For how much did Selby Council buy the lift") for q in bought)  # no "£ how much"


def test_a_maker_on_a_noun_is_asked_with_who(bio):
    maker = _fact(bio, "the sculptor Ivo Brandt")
    assert maker.role == "np-maker" and "Mara Quill" in maker.subject  # "a bust of her": her is Mara Quill
    assert any(q.startswith("Who made a bust of Mara Quill") for q in rewrite.questions(maker))


def test_the_named_apposition_is_the_subject_of_questions_and_a_thing_is_asked_from_its_other_side(bio):
    opened = _fact(bio, "1950")
    assert rewrite.questions(opened)[0] == "When did the Harlow Aqueduct open?"
    closed = [f for f in bio if f.role == "subject" and "closed" in f.answer]
    assert closed and any(q == "What was closed from 1961 to 1964?" for q in rewrite.questions(closed[0]))


def test_each_end_of_a_range_and_a_reason_get_their_own_question_word(bio):
    start, end = rewrite.questions(_fact(bio, "1961")), rewrite.questions(_fact(bio, "1964"))
    assert start[0] == "From when was the Harlow Aqueduct closed?"
    assert end[0] == "Until when was the Harlow Aqueduct closed?"
    assert set(start).isdisjoint(end)
    why = rewrite.questions(_fact(bio, "the frost"))
    assert why and why[0].startswith("Why did the engineers") and not any("because" in q for q in why)


def test_the_wrong_fact_check_accepts_names_the_reading_resolved():
    passage = "The Brackwater Harbour Authority was set up in 1958. It now employs 214 people."
    pair = {"question": "What employs 214 people now?", "sentence": "It now employs 214 people.",
            "answer": "The Brackwater Harbour Authority now employs 214 people.",
            "keys": ["The Brackwater Harbour Authority"]}
    # a name from another sentence of the passage is caught unless the reading resolved "it" to it
    assert filters.check_fact(pair, passage, {}, filters.FilterSettings()) is not None
    pair["resolved"] = "the Brackwater Harbour Authority"
    assert filters.check_fact(pair, passage, {}, filters.FilterSettings()) is None


LIFE = """# Ida Marsh

Ida Marsh (1890–1961) was a printer. In 1912 she married Tom Reeve, a joiner; they had three daughters.
She finished her training in 1914 with an essay titled Type and Light.
In 1920 the firm moved its press from Dunmere to Holt, a village in the hills, where it employed 9 printers by 1930.
Her first book, The Quiet Page (1931), sold 4,000 copies.
"""


@pytest.fixture(scope="module")
def life() -> list[fx.Fact]:
    return fx.document_facts([{"id": "life-0000", "source": "life.md", "index": 0, "start": 0, "text": LIFE}])


def test_a_clause_before_a_semicolon_is_a_statement_of_its_own(life):
    married = _fact(life, "1912")
    assert married.answer == "In 1912 Ida Marsh married Tom Reeve, a joiner."
    assert "When did Ida Marsh marry Tom Reeve?" in rewrite.questions(married)
    assert "married" not in _fact(life, "three daughters").answer  # the other clause no longer carries it


def test_a_relative_clause_with_its_own_subject_and_a_name_given_by_titled(life):
    printers = _fact(life, "9 printers")
    assert printers.answer == "The firm of Ida Marsh employed 9 printers by 1930."
    assert "How many printers did the firm of Ida Marsh employ by 1930?" in rewrite.questions(printers)
    holt = [f for f in life if f.role == "appos-desc" and f.subject == "Holt"]
    assert holt and "employed" not in holt[0].answer  # the description stops before "where ..."
    essay = _fact(life, "Type and Light")
    assert essay.kind == "name" and essay.answer == "The essay of Ida Marsh was titled Type and Light."
    assert _fact(life, "Dunmere").kind == "place" and _fact(life, "Holt").kind == "place"


def test_a_year_in_brackets_after_a_work_dates_it(life):
    year, name = _fact(life, "1931"), _fact(life, "the Quiet Page")
    assert year.answer == "The Quiet Page is a work of Ida Marsh from 1931."
    assert "When does the Quiet Page date from?" in rewrite.questions(year)
    assert "Which work of Ida Marsh is from 1931?" in rewrite.questions(name)
    assert {_fact(life, "1890").role, _fact(life, "1961").role} == {"born", "died"}


def test_a_month_a_storm_and_an_adverb_inside_the_verb_are_asked_naturally():
    text = ("# Harbour report\n\nThe Harbour Board runs the port. August was the busiest month, with 164 ships "
            "berthing. The north wall had partly collapsed during Storm Idris in January 2020.\n")
    found = fx.document_facts([{"id": "h-0", "source": "h.md", "index": 0, "start": 0, "text": text}])
    assert rewrite.questions(_fact(found, "August"))[0] == "Which month was the busiest month with 164 ships berthing?"
    storm = _fact(found, "Storm Idris")
    # the name says what it names: "Which storm", not "whom"
    assert storm.kind != "person" and rewrite.questions(storm)[0].startswith("During which storm had the north wall")
    assert "When had the north wall of the Harbour Board partly collapsed during Storm Idris?" in rewrite.questions(
        _fact(found, "January 2020"))


def _doc_facts(text: str) -> list[fx.Fact]:
    return fx.document_facts([{"id": "t-0", "source": "t.md", "index": 0, "start": 0, "text": text}])


def test_a_fact_is_answered_in_several_statements_and_another_verb_is_answered_with_that_verb():
    found = _doc_facts("# The Tanbury Mill\n\nThe Tanbury Mill is a paper mill on the River Osk. In 1874 the mill "
                       "was built by the Corwen Paper Company. Construction began in March 1872.\n")
    began = _fact(found, "March 1872")
    pairs = rewrite.wordings(began, 6)
    answers = {a for _, a in pairs}
    assert len(answers) >= 2 and all("March 1872" in a for a in answers)
    for question, answer in pairs:
        if re.search(r"\bstart\b", question):  # asked with the table's other verb: answered with it too
            assert "started in March 1872" in answer, (question, answer)
    assert any(re.search(r"\bstart\b", q) for q, _ in pairs)
    built = _fact(found, "1874")
    statements = {a for _, a in rewrite.wordings(built, 6)}
    # the leading time phrase moves to the end in one of the statements
    assert any(a.endswith("in 1874.") for a in statements) and built.answer in statements
    assert rewrite.questions(built, 6) == [q for q, _ in rewrite.wordings(built, 6)]


def test_a_phrasal_verb_keeps_its_own_verb():
    found = _doc_facts("# Vell Harbour\n\nVell Harbour is a fishing port. Its pilots carried out 1,092 acts of "
                       "pilotage.\n")
    acts = _fact(found, "1,092 acts of pilotage")
    assert not any("transport" in q or "transport" in a for q, a in rewrite.wordings(acts, 6))


def test_an_adjective_before_a_name_is_not_its_kind_and_a_second_name_is_no_description():
    from workbench.qa import lexicon
    if lexicon._wordnet() is None:
        pytest.skip("WordNet is not installed: noun senses come from it")
    assert rewrite.type_noun("the older Sarnford Bridge Trust") == "trust"
    assert rewrite.type_noun("the contractor Pellow & Dunn") == "contractor"
    found = _doc_facts("# Osk Docks\n\nOsk Docks is a port. The longest ship ever berthed at Garrow Quay, the ore "
                       "carrier Halda Wren, arrived on 3 May 2019.\n")
    appos = [f.answer for f in found if f.role.startswith("appos")]
    assert not [a for a in appos if re.match(r"Garrow Quay (is|was) .*Halda Wren", a)
                or re.match(r"Halda Wren (is|was) Garrow Quay", a)], appos
    # the name set off between the subject and its verb names the subject, not the quay before it
    assert "Halda Wren was the longest ship ever berthed at Garrow Quay." in appos, appos


def test_she_after_a_person_named_in_a_side_clause_means_that_person():
    found = _doc_facts("# Osk Docks\n\nOsk Docks is a port run by a harbour board. The worst incident came on 4 June "
                       "2020, when the ferry Mirren Bell ran aground on the Cray Bank. Nobody was hurt, and she was "
                       "refloated on the next tide.\n")
    refloated = [f for f in found if "refloated" in f.answer]
    assert refloated and all("Mirren Bell" in f.answer for f in refloated), [f.answer for f in refloated]


WATER = ("# Fenmarsh Water Board\n\nThe Fenmarsh Water Board runs the reservoirs of the district. Its chair, Mina "
         "Pask, took office in 2019. In 2020 the board rebuilt the Carrow Lane pumping station. The new station, 40 "
         "metres long, was built by the firm Dell & Orme. The board also sold its empty Mill Street warehouse to "
         "the town council; the building will become a library.\n\nThe largest ship ever moored at Kell Quay, the "
         "tanker Orla Vane, arrived on 2 May 2021; she is 90 metres long and drew 6 metres of water. Most of the "
         "dredging was done by the Kittiwake, a dredger that the board has owned since 2001. A survey led by the "
         "board's chief scientist, Dr Ada Venn, counted 40 otters.\n\nThe board has approved plans for a £3 "
         "million visitor centre at Dunmere. Designed by Ash & Pole Architects, it is expected to open in 2027.\n")


@pytest.fixture(scope="module")
def water() -> list[fx.Fact]:
    return _doc_facts(WATER)


def test_a_short_reference_names_the_thing_the_text_named_before(water):
    answers = {f.answer for f in water}
    # "the new station" is the Carrow Lane pumping station; "the building" is the warehouse just named
    built = "The new Carrow Lane pumping station was built by the firm Dell & Orme"
    assert any(a.startswith(built) for a in answers), answers
    assert "The Mill Street warehouse will become a library." in answers, answers


def test_it_after_a_body_brings_in_a_built_thing_means_that_thing(water):
    opening = [f for f in water if f.span == "2027"]
    assert opening and opening[0].answer == "The visitor centre at Dunmere is expected to open in 2027.", \
        [f.answer for f in opening]
    questions = rewrite.questions(opening[0])
    assert "When is the visitor centre at Dunmere expected to open?" in questions, questions
    assert not [f for f in water if "board was designed" in f.answer.lower()]


def test_a_shared_pronoun_subject_and_misplaced_names_give_no_wrong_fact(water):
    answers = [f.answer for f in water]
    assert not [a for a in answers if "Mina Pask drew" in a or "Mina Pask is 90" in a], answers
    assert "Orla Vane drew 6 metres of water." in answers, answers
    assert "Orla Vane was the largest ship ever moored at Kell Quay." in answers, answers
    assert not [a for a in answers if re.match(r"Dr Ada Venn (is|was) a survey", a)], answers
    assert "The Fenmarsh Water Board has owned the Kittiwake since 2001." in answers, answers


LIFE2 = ("# Margaret Hollis\n\nMargaret Hollis (1911-1980) was a naval architect. At the age of nine she built a "
         "model lifeboat out of tin cans; it won the first prize at the 1920 Harlow Fair. During the war she "
         "worked for the Admiralty, where she designed the Tenby raft, a rescue raft that carried 12 sailors.\n")


def test_an_age_is_asked_as_an_age_and_it_after_a_persons_new_thing_is_that_thing():
    found = _doc_facts(LIFE2)
    age = [f for f in found if f.span == "the age of nine"]
    assert age, [f.span for f in found]
    asked = rewrite.questions(age[0], n=6)
    assert any(q.startswith("At what age did Margaret Hollis build") for q in asked), asked
    assert any(q.startswith("How old was Margaret Hollis when Margaret Hollis built") for q in asked), asked
    # an age under which someone else falls is no age of the subject
    prize = _doc_facts("# Margaret Hollis\n\nMargaret Hollis was a naval architect. Since 1981 the Institute has "
                       "awarded a prize each year to an engineer under the age of 35.\n")
    under = [q for f in prize if f.span == "the age of 35" for q in rewrite.questions(f, n=8)]
    assert under and not [q for q in under if q.startswith("How old")], under
    prize = [f.answer for f in found if "first prize" in f.answer]
    assert prize and all(a.startswith("The model lifeboat won") for a in prize), prize
    # the parser hangs "a rescue raft" on "she"; its clause is still about the raft she designed
    carried = [f.answer for f in found if "12 sailors" in f.answer]
    assert "The Tenby raft carried 12 sailors." in carried and not [a for a in carried if "Hollis carried" in a]
    fair = [f for f in found if f.span == "the 1920 Harlow Fair"]
    assert fair and fair[0].kind == "date", [(f.span, f.kind) for f in fair]  # a year before a name dates it


def test_a_question_word_inside_a_noun_phrase_is_no_question():
    assert rewrite.check_question("Margaret Hollis won the first prize at the which year Harlow Fair?", "1920")
    assert rewrite.check_question("Margaret Hollis won the first prize at the 1920 which place?", "Harlow Fair")
    assert rewrite.check_question("In which year did Margaret Hollis win the first prize?", "1920") is None


def test_a_thing_whose_name_sounds_like_a_person_is_asked_with_what():
    from workbench.qa import lexicon
    if lexicon._wordnet() is None:
        pytest.skip("WordNet is not installed: noun senses come from it")
    assert not lexicon.is_person_noun("crane")  # WordNet lists the poet Hart Crane before the machine
    found = _doc_facts("# The Vell Crane\n\nThe Vell harbour crane was built in 1911 by the Vell Iron Works.\n")
    subject = [f for f in found if f.role == "subject"]
    assert subject and subject[0].kind == "thing", [(f.span, f.kind) for f in subject]
    assert not [q for q in rewrite.questions(subject[0], n=6) if q.startswith(("Who", "Which person"))]


def test_a_role_noun_whose_first_sense_is_no_person_names_a_persons_role_and_is_asked_both_ways():
    from workbench.qa import lexicon
    if lexicon._wordnet() is None:
        pytest.skip("WordNet is not installed: noun senses come from it")
    found = _doc_facts("# The Orlen Valley Trust\n\nThe Orlen Valley Trust was founded in 1921. Its head, Mabel "
                       "Quarrie, took office in 2015.\n")
    name = next(f for f in found if f.role == "appos-name" and f.span == "Mabel Quarrie")
    questions = rewrite.questions(name, 6)
    # "head" is first a body part, but set against a name it is her role; asked with the possessive and with "of"
    assert "Who was the Orlen Valley Trust's head?" in questions, questions
    assert "Who was the head of the Orlen Valley Trust?" in questions, questions


def test_a_name_the_document_describes_is_also_asked_by_its_description():
    found = _doc_facts("# Port Ferrin\n\nPort Ferrin is a deep-water port. The heaviest ship ever unloaded at Dray "
                       "Quay, the ore carrier Solan Mist, arrived on 4 May 2020. She is 241 metres long.\n")
    length = _fact(found, "241 metres")
    questions = rewrite.questions(length, 6)
    assert "How long is Solan Mist?" in questions, questions
    # a reader who knows the ship only by what the text calls her asks by that; the answer still names her
    assert "How long is the heaviest ship ever unloaded at Dray Quay?" in questions, questions
    assert all("Solan Mist" in a and "241 metres" in a for _, a in rewrite.wordings(length, 6))
    assert rewrite.of_form("the Orlen Valley Trust's head") == "the head of the Orlen Valley Trust"
    assert rewrite.of_form("a trailing dredger") is None
    assert not fx._definite("a trailing dredger") and fx._definite("the heaviest ship")


def test_a_verb_idiom_is_not_asked_as_an_object_and_broken_question_words_are_refused():
    found = _doc_facts("# The Orlen Valley Trust\n\nThe Orlen Valley Trust runs two reservoirs. Its head, Mabel "
                       "Quarrie, took office in 2015. The annual regatta took place on Lake Orl in 2019.\n")
    assert not [f for f in found if f.role == "object" and f.span in ("office", "place")], [f.span for f in found]
    assert "2015" in {f.span for f in found} and "2019" in {f.span for f in found}
    assert rewrite.check_question("Mabel Quarrie succeeded the retirement of who who had led the board?", "Ann Orr")
    assert rewrite.check_question("Which its empty did the Trust sell to the council?", "warehouse")
    # "whom" as the subject of an active verb is "who"; "Whom did ..." stays
    published = [f for f in _doc_facts("# The Orl Press\n\nThe Orl Press is a publisher. A third book was published "
                                       "by her son Tom in 1984.\n") if f.role == "agent"]
    assert published and "Who published a third book of the Orl Press in 1984?" in rewrite.questions(published[0], 6)
    assert not any(q.startswith("Whom ") and not q.startswith(("Whom did", "Whom was"))
                                 for q in rewrite.questions(published[0], 6))


def test_a_described_thing_that_does_something_is_also_asked_by_its_kind():
    """"What was handed over to X?" has a second wording that names the kind of thing asked for, as readers ask;
    a bare noun ("Work began ...") is not asked as "Which work ...", and the kind is never taken from a name."""
    text = ("# The Selby Marsh Depot\n\nThe disused signal tower on Tern Stack was handed over to the Selby Marsh "
            "Heritage Society in 2019. The local fishing fleet landed 6,318 tonnes of fish. Work began in May 2021.")
    found = fx.document_facts([{"id": "k-0", "source": "k.md", "index": 0, "start": 0, "text": text}])
    tower = [f for f in found if f.role == "subject" and "signal tower" in f.span]
    assert tower and "Which tower was handed over to the Selby Marsh Heritage Society in 2019?" in \
        rewrite.questions(tower[0], 6)
    fleet = [f for f in found if f.role == "subject" and "fishing fleet" in f.span]
    assert fleet and any(q.startswith("Which fleet landed 6,318 tonnes of fish")
                         for q in rewrite.questions(fleet[0], 6))
    work = [f for f in found if f.role == "subject" and f.span.startswith("Work")]
    assert work and not any(q.startswith("Which work") for q in rewrite.questions(work[0], 6))
    assert rewrite.head_noun("the Brackwater Sound Harbour Authority") == ""
    assert rewrite.head_noun("the disused signal tower on Tern Stack") == "tower"


def test_a_verb_with_a_state_after_it_keeps_its_own_word():
    """"was left unfinished" is not "was quitted unfinished": the synonym table's verb is for the verb alone."""
    text = "# Ferries\n\nAda Pell left the firm in 1931. A third book was left unfinished at her death."
    found = fx.document_facts([{"id": "s-0", "source": "s.md", "index": 0, "start": 0, "text": text}])
    book = [f for f in found if f.role == "subject" and "book" in f.span]
    assert book and not any("quit" in q for q in rewrite.questions(book[0], 6))
    firm = [f for f in found if f.span == "the firm"]
    assert firm and any("quit" in q for q in rewrite.questions(firm[0], 6))  # the verb alone still has one


ORCHARD = """# The Hessle Moor Community Orchard

The orchard was planted in 1998 on two acres of former grazing land donated by the farmer Agnes Mollart. The orchard
holds 142 fruit trees. The trust holds a pruning day every February. At the 2019 festival, visitors pressed 1,300
litres of juice. In 2014 a fungal disease called brown rot destroyed nearly a third of the crop. Another fungus
destroyed half of the pears. The beehives produce about 90 kilograms of honey a year. Owen Caddis has looked
after the hives since 2011, when he replaced the founding beekeeper, Ruth Penhale. A survey in 2021 recorded 23
species of bird in the orchard, including the lesser spotted woodpecker, which had not been seen in Tarnby for
thirty years.
"""


@pytest.fixture(scope="module")
def orchard() -> list[fx.Fact]:
    return _read("orchard", ORCHARD)


def test_a_thing_dated_by_a_year_is_asked_by_its_kind_and_a_rate_is_not_a_duration(orchard):
    assert _questions(orchard, "the 2019 festival")[0].startswith("At which festival did visitors")
    every = [q for f in orchard for q in rewrite.questions(f, 8)]
    honey = [q for f in orchard if "honey" in f.answer for q in rewrite.questions(f, 8)]
    assert honey and not [q for q in every if "how many festival" in q.lower()]
    assert not [q for q in honey if "how long" in q.lower()]
    assert not [f for f in orchard if f.span == "a year"], "'90 kilograms a year' asks no date"


def test_since_a_year_a_duration_in_words_and_a_share_get_their_own_question_words(orchard):
    assert "Since when has Owen Caddis looked after the hives?" in _questions(orchard, "2011")
    assert _questions(orchard, "thirty years")[0].startswith("How long had the lesser spotted woodpecker")
    assert "How much of the pears did another fungus destroy?" in rewrite.questions(
        _fact(orchard, "half of the pears"), 8)


def test_a_name_beside_a_role_is_a_person_and_the_parsers_misplaced_words_stay_out_of_answers(orchard):
    named = [f for f in orchard if f.span == "Agnes Mollart" and f.role == "appos-name"]
    assert named and named[0].kind == "person" and "Who was the farmer?" in rewrite.questions(named[0])
    assert not [f for f in orchard if f.span == "Agnes Mollart" and "inner" in f.role]
    assert _fact(orchard, "2011").answer == "Owen Caddis has looked after the hives since 2011."
    survey = _fact(orchard, "23 species of bird")
    assert "including" not in survey.subject and survey.answer.startswith(f"{survey.subject} recorded 23 species")
    assert not [f for f in orchard if "rot" in f.answer.split()], "a clause the parser misread is not asked"


def test_hold_is_reworded_as_contain_only_for_a_counted_object(orchard):
    assert any("contain" in q for q in rewrite.questions(_fact(orchard, "142 fruit trees"), 8))
    day = [q for f in orchard if "pruning day" in f.answer for q in rewrite.questions(f, 8)]
    assert day and not [q for q in day if "contain" in q]


NEWT = """# The Carrow Fen Newt

The Carrow Fen newt (Lissotriton carrowensis) is a small amphibian found only in the wetlands of Carrow Fen. It was
first described in 1932 by the naturalist Harriet Bexley, who collected the type specimen from a ditch near the hamlet
of Oxley Cross. Females lay between 150 and 300 eggs, wrapping each one in the leaf of a water plant.
"""


@pytest.fixture(scope="module")
def newt() -> list[fx.Fact]:
    return _read("newt", NEWT)


def test_a_bracket_the_parser_cut_off_leaves_no_half_in_subjects_and_answers(newt):
    described = _fact(newt, "1932")
    assert described.answer == "The Carrow Fen newt was first described in 1932 by the naturalist Harriet Bexley."
    assert not [f for f in newt if f.answer.count("(") != f.answer.count(")") or "(" in f.subject]


def test_a_pronoun_one_is_no_count_lay_keeps_its_verb_and_the_hamlet_of_x_is_a_place(newt):
    assert not [f for f in newt if f.span in ("each one", "one")]
    laid = [q for f in newt if "150 and 300 eggs" in f.span for q in rewrite.questions(f, 8)]
    assert laid and not [q for q in laid if " lie" in q]
    assert _fact(newt, "Oxley Cross").kind == "place"


def test_a_set_off_apposition_with_a_pronoun_does_not_silence_its_whole_sentence():
    text = ("# Fennick & Daughters\n\nAt its peak in 1912 the ropeworks employed 640 people, two thirds of them "
            "women.\n")
    found = _read("rope", text)
    people = rewrite.questions(_fact(found, "640 people"))
    assert people and people[0].startswith("How many people did the ropeworks") and "them" not in people[0]
    assert _fact(found, "640 people").answer.endswith("employed 640 people, two thirds of them women.")


def test_a_resolved_subject_after_a_fronted_phrase_is_not_capitalised():
    text = ("# Fennick & Daughters\n\nThe ropewalk was listed as a building of special interest in 1984. Since 2003 "
            "it has housed the Saltmere Maritime Museum.\n")
    found = _read("rope", text)
    assert _fact(found, "2003").answer.startswith("Since 2003 the ropewalk")


def test_only_the_topics_head_noun_names_the_topic_and_a_step_word_leaves_the_question():
    text = ("# Dunmoor Water Treatment Works\n\nThe Dunmoor Water Treatment Works supplies drinking water to 180,000 "
            "people. First, the water passes through screens that remove leaves. Later the works was sold to "
            "Northfell Water for £2 million.\n")
    found = _read("works", text)
    assert fx.topic_heads("the Skelding Water Flood of 1871") == {"flood", "floods"}
    screens = _fact(found, "screens")
    assert screens.subject.startswith("the water") and screens.answer.startswith("First, the water of the Dunmoor")
    assert rewrite.questions(_fact(found, "the water of the Dunmoor Water Treatment Works"))[0] == (
        "What passes through screens?")
    sold = [q for f in found if "sold" in f.answer for q in rewrite.questions(f, 8)]
    assert sold and not [q for q in sold if q.endswith("Later?") or "£ how" in q]


def test_a_passage_cut_inside_a_paragraph_keeps_what_the_paragraph_named():
    """Passages are cut by length, often inside a paragraph: "Work began ..." opening the second passage still
    means the project the first one closed with, whether the two passages touch or overlap; a passage that
    opens a new paragraph starts afresh."""
    from workbench.corpus import Document, chunk_document

    first = ("# Selby Marsh Harbour Board\n\nThe Selby Marsh Harbour Board runs the port of Selby Marsh.\n\n"
             "Its main project this year was the resurfacing of Dock Road. ")
    text = first + "Work began in March 2021 and ended in June 2021.\n\nWork on the slipway began in 2019."
    for overlap in (0, 60):
        passages = [p.to_dict() for p in chunk_document(Document(source="s.md", text=text, kind="md"), size=len(first),
                                                        overlap=overlap)]
        assert len(passages) >= 2 and passages[1]["text"].startswith(("Work began", "Its main"))
        began = _fact(fx.document_facts(passages), "March 2021")
        assert began.answer.startswith("The resurfacing of Dock Road began"), (overlap, began.answer)
    before = {"start": 0, "text": "Its main project was the resurfacing of Dock Road."}
    assert fx.continues_paragraph(before, {"start": len(before["text"]) + 1})  # a space between the passages
    assert not fx.continues_paragraph(before, {"start": len(before["text"]) + 2})  # a blank line between them
    assert not fx.continues_paragraph({"start": 0, "text": "The resurfacing of Dock Road.\n\nWork began."},
                                      {"start": 31})


def test_a_subjectless_past_tense_after_a_comma_is_not_read_as_the_subjects_act():
    """"It consists of two tracks, laid 1.8 metres apart on timber sleepers": the tagger reads "laid" as a past
    tense whose doer would be the line ("The line laid on timber sleepers", "On whom did the line lay?"); it is
    a participle of the tracks, and nothing of that clause is asked as the line's act."""
    for subject in ("It", "The line"):  # read as a second verb of "consists", and as a clause hung on it
        found = _read("k", "# Kestrelholm Cliff Railway\n\nThe Kestrelholm Cliff Railway is a funicular. The line is "
                      f"168 metres long. {subject} consists of two parallel tracks of 1,372 mm gauge, laid 1.8 metres "
                      "apart on timber sleepers that are bolted to a stepped bed of concrete cut into the cliff.\n")
        assert not [f.answer for f in found if re.search(r"\b(?:line|Railway) laid\b", f.answer)], subject
        assert _fact(found, "two parallel tracks of 1,372 mm gauge").answer.startswith("The line")
    kept = _read("b", "# Ada Pell\n\nAda Pell was an engineer. She designed the Kell Bridge, built the Orr Tower and "
                 "opened the Dunmore line in 1931.\n")
    assert _fact(kept, "the Orr Tower").answer.startswith("Ada Pell built the Orr Tower")


def test_a_hyphened_measure_is_no_count_and_there_is_not_asked():
    """"a 2.4-kilometre tunnel" is a length, not a count ("How many kilometre does ...?"); "There she studied
    ..." keeps its "there" out of the questions and the rebuilt answers ("... under Professor Alder Pennock
    There?")."""
    found = _read("w", "# Dunmoor Works\n\nThe Dunmoor Works treats water. The works takes raw water from Lake Orrin "
                  "through a 2.4-kilometre tunnel completed in 1967.\n")
    asked = [q for f in found for q in rewrite.questions(f, 6)]
    assert not [q for q in asked if re.search(r"how many kilometre|number of kilometre", q, re.IGNORECASE)], asked
    found = _bio("In 1921 she entered "
                 "Caddersby College. There she studied mathematics under Professor Alder Pennock.\n")
    pairs = [pair for f in found for pair in rewrite.wordings(f, 6)]
    studied = [pair for pair in pairs if "mathematics" in pair[1]]
    assert studied and not [p for p in studied if re.search(r"\bthere\b", f"{p[0]} {p[1][1:]}", re.IGNORECASE)], \
        studied


def test_a_description_beside_a_name_gives_its_participle_and_a_role_to_the_name():
    """"the Marle Gull, a grab dredger built in 1999": the Marle Gull was built in 1999 (not "the grab dredger of
    the Selby Harbour Board"); "a survey led by the authority's environmental officer, Dr Piers Ladlow," makes
    Dr Ladlow the officer even where the tagger does not know the name for a person's (not "a winter bird
    survey")."""
    found = _read("h", "# Selby Harbour Board\n\nThe Selby Harbour Board runs the port. The board bought the Marle "
                  "Gull, a grab dredger built in 1999.\n")
    assert _fact(found, "1999").answer == "The Marle Gull was built in 1999."
    found = _read("b", "# Brackwater Sound Harbour Authority\n\nThe Brackwater Sound Harbour Authority manages the "
                  "quays. A winter bird survey led by the authority's environmental officer, Dr Piers Ladlow, counted "
                  "2,750 dunlin on the Quillmarsh mudflats.\n")
    described = [f.answer for f in found if f.role.startswith("appos") and "Ladlow" in f.span + f.subject]
    assert described and all(a.endswith("environmental officer.") for a in described), described


def test_a_relative_clause_on_a_predicate_noun_is_the_subjects():
    """"The X Railway is a water-balanced funicular railway that links A with B": the railway links them (not
    "the water-balanced funicular railway of the X Railway links ...")."""
    found = _read("k", "# The Kestrelholm Cliff Railway\n\nThe Kestrelholm Cliff Railway is a water-balanced "
                  "funicular railway that links the lower promenade of the town with the Upper Esplanade.\n")
    assert _fact(found, "the Upper Esplanade").answer.startswith("The Kestrelholm Cliff Railway links the lower")


def test_her_and_his_outside_the_subject_name_the_person_a_biography_is_about():
    """In a biography "her" in "published by her son" and "encouraged her" is the subject of the text, so the
    answers and questions name her; "his" (another person's, in a text about a woman) and "her" bound to a
    person subject stay as they are."""
    found = _bio("She studied under "
                 "Professor Alder Pennock, who encouraged her to move into engineering. Her father kept the model "
                 "in his shop window. A third book was published by her son Laurence in 1984. A fourth book was left "
                 "unfinished at her death. Vask-Hallam died at her home in Pellerby in 1978.\n")
    assert _fact(found, "1984").answer == "A third book was published by Theodora Vask-Hallam's son Laurence in 1984."
    # her surname as the subject is she, named in full
    assert _fact(found, "1978").answer == "Theodora Vask-Hallam died at her home in Pellerby in 1978."
    assert any(q.startswith("When did Theodora Vask-Hallam die") for q in rewrite.questions(_fact(found, "1978"), 6))
    # a state after "left" is no thing to ask for ("Which unfinished at was a fourth book left?")
    assert not [f for f in found if f.span.startswith("unfinished")]
    assert "Pennock encouraged Theodora Vask-Hallam to move" in _fact(found, "engineering").answer
    assert "in his shop window" in _fact(found, "the model").answer
    asked = [q for span in ("1984", "engineering") for q in rewrite.questions(_fact(found, span), 6)]
    assert asked and not [q for q in asked if re.search(r"\bher\b", q)], asked


def test_the_surname_alone_of_the_person_a_text_is_about_is_named_in_full_and_asked_with_who():
    """A reader names the person in full; "What entered Caddersby College?" asked the surname as a thing. A name
    part inside a longer name (the prize) stays as written."""
    found = _bio("In 1921 Vask-Hallam "
                 "entered Caddersby College. A statue of Vask-Hallam was unveiled in 2003. The Vask-Hallam Prize "
                 "has been awarded since 1981.\n\nVask-Hallam died of a stroke at her home in Pellerby on 2 October "
                 "1978, at the age of 75.\n")
    entered = _fact(found, "Caddersby College")
    assert entered.subject == "Theodora Vask-Hallam"
    assert entered.answer == "In 1921 Theodora Vask-Hallam entered Caddersby College."
    who = [f for f in found if f.role == "subject" and f.answer == entered.answer]
    assert who and who[0].kind == "person"
    assert rewrite.questions(who[0])[0].startswith("Who entered Caddersby College")
    assert _fact(found, "2003").answer == "A statue of Theodora Vask-Hallam was unveiled in 2003."
    assert _fact(found, "1981").answer == "The Vask-Hallam Prize has been awarded since 1981."
    # "Vask" opening a paragraph is tagged as a noun
    assert _fact(found, "2 October 1978").answer.startswith("Theodora Vask-Hallam died of a stroke")


def test_a_family_phrase_gives_the_parents_and_the_number_of_children():
    """"born in W, the youngest of five children of A, a clockmaker, and B, a teacher" held two facts no
    question asked (her parents, five children) and put its words into the birthplace's question."""
    found = _bio("She was born in "
                 "Wrenstow, a mill town, the youngest of five children of Josiah Hallam, a clockmaker, and Edith "
                 "Vask, a village schoolteacher. Ada Kerr, the daughter of a miner, was her pupil.\n")
    parents = _fact(found, "Josiah Hallam and Edith Vask")
    assert parents.answer == ("Theodora Vask-Hallam was the youngest of five children of Josiah Hallam and Edith "
                              "Vask.")
    assert "Who were the parents of Theodora Vask-Hallam?" in rewrite.questions(parents)
    assert "How many children did Josiah Hallam and Edith Vask have?" in rewrite.questions(_fact(found, "five"))
    assert rewrite.questions(_fact(found, "Wrenstow"))[0] == "Where was Theodora Vask-Hallam born?"
    assert not [f for f in found if f.span == "the youngest"]
    assert "Whose daughter was Ada Kerr?" in rewrite.questions(_fact(found, "a miner"))


def test_the_owner_of_an_unnamed_thing_goes_before_a_time_after_it():
    """"Total income for the year" is the authority's income, not "the year of the authority"."""
    found = _read("t", "# Brackwater Sound Harbour Authority\n\nThe Brackwater Sound Harbour Authority runs the port. "
                  "Total income for the year reached £18.7 million.\n")
    assert _fact(found, "£18.7 million").answer == ("Total income of the Brackwater Sound Harbour Authority for the "
                                                    "year reached £18.7 million.")


def test_a_fronted_phrase_before_an_inverted_subject_reads_as_the_subject_does():
    """"Among her students was the tunnel engineer S, who later described her lectures as "..."" taught "Among her
    students was the tunnel engineer S, S, "." and asked "Who was Among her students?"; "went on to design X"
    was asked "What was gone by T to design?", and a name inside a noun phrase "... and the who bridges?"."""
    found = _bio("Among her students "
                 "was the tunnel engineer Samuel Okoro-Fenn, who later described her lectures as \"arithmetic "
                 "delivered like a sermon\". She went on to design the Tolley Viaduct (1963) and the Marrick Lock "
                 "bridges (1966).\n")
    student = _fact(found, "the tunnel engineer Samuel Okoro-Fenn")
    assert student.answer == "Among Theodora Vask-Hallam's students was the tunnel engineer Samuel Okoro-Fenn."
    assert "Who was among Theodora Vask-Hallam's students?" in rewrite.questions(student)
    designed = rewrite.questions(_fact(found, "the Marrick Lock bridges"), 6)
    assert "What did Theodora Vask-Hallam go on to design?" in designed
    assert not [q for q in designed if " gone " in q]
    assert rewrite.check_question("Theodora Vask-Hallam went on to design the Tolley Viaduct and the who bridges?",
                                  "Marrick Lock") == "not a question"
    assert "Samuel Okoro-Fenn was among Theodora Vask-Hallam's students." in \
        {a for _, a in rewrite.wordings(_fact(found, "Theodora Vask-Hallam's students"), 6)}


def test_a_quote_or_bracket_that_lost_its_partner_is_left_out():
    assert fx._clean('the tunnel engineer Samuel Okoro-Fenn".') == "the tunnel engineer Samuel Okoro-Fenn."
    assert fx._clean('"The Honest Span" argued that') == '"The Honest Span" argued that'
    assert fx._clean("\u201cThe Honest Span argued that") == "The Honest Span argued that"
    assert fx._clean("The newt (Lissotriton") == "The newt Lissotriton"

HARBOUR = ("# The Quillmarsh Harbour Authority\n\nThe Quillmarsh Harbour Authority runs the port. Cuthbert Anwell had "
           "led the board for 17 years. Captain Odile Vranck retired in December 2021. Total income for the year "
           "reached £18.7 million.\n")

BIO_HEAD = "# Theodora Vask-Hallam\n\nTheodora Vask-Hallam was a bridge engineer. "


def _named(name: str, text: str) -> list[fx.Fact]:
    """The facts of one document of one passage, read with questions naming the document's subject."""
    return fx.document_facts([{"id": f"{name}-0000", "source": f"{name}.md", "index": 0, "start": 0, "text": text}],
                             name_subject=True)


def test_questions_name_the_documents_subject_only_when_asked():
    plain = _read("harbour", HARBOUR)
    assert _questions(plain, "December 2021")[0] == "When did Captain Odile Vranck retire?"
    assert not [q for f in plain for q in rewrite.questions(f, 6) if "at the Quillmarsh" in q]



def test_questions_name_the_documents_subject_where_their_clause_does_not():
    """Readers name the document's subject in every question; a training question that never names it leaves
    the name pointing at the document's other facts."""
    found = _named("harbour", HARBOUR)
    # a bare "the board" the subject owns gets its name, in every wording and in the rebuilt answer
    years = rewrite.wordings(_fact(found, "17 years"), 4)
    assert years[0][0] == "How long had Cuthbert Anwell led the board of the Quillmarsh Harbour Authority?"
    assert all("the board of the Quillmarsh Harbour Authority" in q for q, _ in years)
    # a clause that names it nowhere is placed at it, by what its head noun is ("at" an authority)
    assert _questions(found, "December 2021")[0] == \
        "When did Captain Odile Vranck retire at the Quillmarsh Harbour Authority?"
    board = _questions(found, "the board")
    assert board[0] == "What had Cuthbert Anwell led for 17 years at the Quillmarsh Harbour Authority?", board
    # not where the asked span or the subject names it already, and never a time of it ("the year of the X")
    assert not [q for q in _questions(found, "Total income of the Quillmarsh Harbour Authority for the year")
                if "at the Quillmarsh" in q]
    assert not [q for q in _questions(found, "£18.7 million") if "year of" in q or "at the Quillmarsh" in q]


def test_a_biography_and_a_subject_of_no_known_kind_place_nothing():
    bio = _named("t", BIO_HEAD + "Her son led the board for 17 years.")
    assert not [q for q in _questions(bio, "17 years") if "board of Theodora" in q or "at Theodora" in q]
    newt = _named("newt", "# The Carrow Fen newt\n\nThe Carrow Fen newt lives in ponds. A survey counted 640 adults "
                         "in the breeding season.\n")
    assert not [q for q in _questions(newt, "640 adults") if " at the " in q or " on the " in q]


def test_a_subject_whose_head_the_lists_lack_is_placed_by_its_wordnet_class():
    light = _named("light", "# The Farrow Point Lighthouse\n\nThe Farrow Point Lighthouse stands on a reef. Its first "
                           "keeper, Amos Reddy, served for 31 years. Amos Reddy retired in 1899.\n")
    assert "When did Amos Reddy retire at the Farrow Point Lighthouse?" in _questions(light, "1899")
    dig = _named("dig", "# The Holloway Barrow excavation\n\nThe Holloway Barrow excavation ran from 1961 to 1964. "
                       "Professor Ann Cole found 212 flint tools.\n")
    assert [q for q in _questions(dig, "212 flint tools") if q.endswith("during the Holloway Barrow excavation?")]


def test_a_biographys_works_are_asked_as_the_persons_own():
    bio = _named("t", BIO_HEAD + "In 1940 she designed the Corvane pontoon, a portable bridge. The Corvane pontoon "
                 "rested on 14 aluminium floats. Her best-known work, the Saltmere Estuary Bridge, opened on 17 May "
                 "1957. The deck of the Saltmere Estuary Bridge was hung from two towers. She also founded the "
                 "practice Vask & Aske.")
    assert naming.works_of(bio, "Theodora Vask-Hallam") == ["Corvane pontoon", "Saltmere Estuary Bridge"]
    assert _questions(bio, "14 aluminium floats")[0] == \
        "On how many aluminium floats did Theodora Vask-Hallam's Corvane pontoon rest?"
    towers = _questions(bio, "two towers")
    assert "From how many towers was the deck of Theodora Vask-Hallam's Saltmere Estuary Bridge hung?" in towers
    # the possessive turned the other way stays whole: not "the Saltmere Estuary Bridge of the deck of ..."
    assert not [q for q in towers if "Bridge of the deck" in q], towers


PARTS = ("# The Orrin Museum\n\nThe Orrin Museum is a museum in Selby Marsh. It now holds some 14,300 objects, of "
         "which roughly 1,900 are on display in nine galleries. Its cargo throughput rose to 2.83 million tonnes, of "
         "which timber made up 41 per cent and crushed aggregates 27 per cent. The museum owns 40 boats, of which 12 "
         "were built before 1900.\n")


def test_a_partitive_clause_states_its_part_of_the_whole():
    found = _read("parts", PARTS)
    shown = [f for f in found if f.span.startswith("Roughly 1,900")]
    assert shown, [f.answer for f in found]
    assert shown[0].answer == "Roughly 1,900 of the objects of the Orrin Museum are on display in nine galleries."
    assert "How many of the objects of the Orrin Museum are on display in nine galleries?" in rewrite.questions(
        shown[0])
    # the facts stay tied to the sentence as written, for the ledger and the wrong-fact check
    assert "of which roughly 1,900" in shown[0].sentence
    boats = rewrite.questions(next(f for f in found if f.span.startswith("12")))
    assert "What number of the boats of the Orrin Museum were built before 1900?" in boats  # not "of of"


def test_a_gapped_list_after_of_which_gives_each_item_its_verb_and_no_misread_verb():
    found = _read("parts", PARTS)
    timber = _fact(found, "41 per cent")
    assert timber.answer.endswith("made up 41 per cent of the Orrin Museum's cargo throughput."), timber.answer
    aggregates = _fact(found, "27 per cent")
    assert aggregates.answer == "Crushed aggregates made up 27 per cent of the Orrin Museum's cargo throughput."
    assert "What made up 27 per cent of the Orrin Museum's cargo throughput?" in rewrite.questions(
        _fact(found, "Crushed aggregates"))
    # before, the parser's "crushed" was read as a verb: "Timber crushed aggregates 27 per cent"
    assert not [f.answer for f in found if "crush" in f.answer.lower().replace("crushed aggregates made", "")]


def test_a_second_participle_read_as_a_past_tense_keeps_the_passive():
    found = _read("boats", "# The Orrin Museum\n\nThe Orrin Museum is a museum in Selby Marsh. Its twelve boats were "
                  "built before 1900 and restored in 1990. Its staff were trained in 2001 and carried 20 boats.\n")
    assert _fact(found, "1990").answer.endswith("were restored in 1990."), _fact(found, "1990").answer
    # a past tense with an object of its own stays active
    assert _fact(found, "20 boats").answer.endswith("carried 20 boats.")


def test_a_share_in_per_cent_is_asked_as_a_percentage_not_a_sum():
    found = _read("dues", "# The Orrin Harbour Board\n\nThe Orrin Harbour Board runs the port of Selby Marsh. Harbour "
                  "dues will rise by 3.8 per cent from 1 April 2022.\n")
    questions = _questions(found, "3.8 per cent")
    assert [q for q in questions if "what percentage" in q.lower()], questions
    assert not [q for q in questions if "sum" in q or "how much" in q.lower()], questions


REMARKS = """# The Orrin Harbour Board

The Orrin Harbour Board runs the port of Selby Marsh. Eleven apprentices joined the board during the year, the largest
intake since 2008. Harbour dues will rise by 3.8 per cent from 1 April 2022, the first increase in three years.
The board's clock shows the hour, the phases of the moon and the times of high water.
"""


def test_a_closing_remark_on_the_clause_is_neither_asked_nor_carried_into_questions():
    found = _read("remarks", REMARKS)
    spans = [f.span for f in found]
    assert "the largest intake" not in " ".join(spans) and "the first increase" not in " ".join(spans), spans
    dues = _questions(found, "3.8 per cent")
    assert "By what percentage will Harbour dues rise from 1 April 2022?" in dues, dues
    joined = _questions(found, "Eleven apprentices of the Orrin Harbour Board")
    assert not [q for q in dues + joined if "increase in" in q or "intake" in q]
    # the answer still says it: it is the sentence's statement
    assert _fact(found, "3.8 per cent").answer.endswith("the first increase in three years.")
    # a list after a comma is no remark: its items are still asked
    assert [f for f in found if "the times of high water" in f.span], spans


def test_a_firm_filling_a_role_is_asked_as_an_organisation_and_a_phrasal_verb_has_no_doer_noun():
    found = _read("wall", "# The Orrin Harbour Board\n\nThe Orrin Harbour Board runs the port of Selby Marsh. "
                  "The wall was rebuilt by its contractor, Halloran & Vesk. The board's pilots carried out 1,092 "
                  "acts of pilotage. The board also agreed to sell its empty Brine Street warehouse to Quillmarsh "
                  "Town Council for £410,000.\n")
    firm = [q for f in found if f.role == "appos-name" and f.span == "Halloran & Vesk" for q in rewrite.questions(f)]
    assert firm and not [q for q in firm if q.startswith(("Who", "Which person"))], firm
    assert "Which organisation was the Orrin Harbour Board's contractor?" in firm, firm
    pilots = [q for f in found if f.role == "subject" and "pilots" in f.span for q in rewrite.questions(f)]
    assert pilots and not [q for q in pilots if "carrier" in q], pilots
    # a name inside a thing's name is the thing's: no "its empty which street warehouse"
    sold = [q for f in found if "warehouse" in f.sentence for q in rewrite.questions(f)]
    assert sold and not [q for q in sold if "which street" in q.lower()], sold
    assert not [q for q in sold if "also" in q.lower()], sold  # "also" links to a sentence a question lacks


def test_a_relative_clause_belongs_to_the_list_item_before_it_and_one_of_a_pair_is_no_count():
    found = _read("lift", "# The Orrin Lift\n\nThe Orrin Lift is a funicular in Selby Marsh. The upper station houses "
                  "the winding wheel, the brake levers and a cistern that holds 90,000 litres of water. The cars are "
                  "joined by two cables, each 30 mm in diameter, which pass over a wheel at the upper station, so "
                  "that one car rises as the other descends.\n")
    held = _fact(found, "90,000 litres of water")
    assert held.subject.lower().startswith(("a cistern", "the cistern")), held.subject
    passed = [f for f in found if f.sentence.startswith("The cars") and "wheel" in f.span and f.role == "object"]
    assert passed and passed[0].subject.lower().startswith("two cables"), [f.subject for f in passed]
    rises = [q for f in found if f.answer.startswith("One car") for q in rewrite.questions(f)]
    assert rises and not [q for q in rises if q.startswith(("How many", "What number"))], rises


def test_a_named_bridge_is_no_organisation_and_a_description_hung_on_the_wrong_noun_finds_its_name():
    found = _bio("Her first major commission was the Ambry Footbridge in her home town, a 68-metre cable-stayed "
                 "span completed in 1934. The Saltmere Estuary Bridge was granted protected status in 1999, and a "
                 "statue of her by the sculptor Nell Gaudry was unveiled beside the Ambry Footbridge in 2003 to mark "
                 "the centenary of her birth.\n")
    completed = _fact(found, "1934")
    assert completed.answer == "The Ambry Footbridge was completed in 1934.", completed.answer
    granted = [q for f in found if f.span == "The Saltmere Estuary Bridge" for q in rewrite.questions(f)]
    assert granted and not [q for q in granted if "organisation" in q], granted
    marked = [f.answer for f in found if "centenary" in f.answer and "marked" in f.answer]
    assert marked and not [a for a in marked if a.startswith("To ")], marked


def test_a_ship_with_a_name_like_a_persons_is_not_asked_who():
    # the tagger reads "Merrow Dawn" as a person and "carrier" may name one; "vessel" may not, so it is a ship
    found = _read("port", "# The Orrin Harbour Board\n\nThe Orrin Harbour Board runs the port of Selby Marsh. "
                  "The largest vessel ever handled at Selby Marsh, the bulk carrier Merrow Dawn, arrived on "
                  "9 November 2021; she is 229 metres long.\n")
    asked = [q for f in found if f.role.startswith("appos") and f.span in ("Merrow Dawn", "the bulk carrier")
             for q in rewrite.questions(f)]
    assert asked and not [q for q in asked if q.startswith(("Who", "Which person"))], asked
    assert "What is the bulk carrier?" in asked or "What was the bulk carrier?" in asked, asked
    assert "How long is Merrow Dawn?" in _questions(found, "229 metres")
    ferry = _read("ferry", "# The Orrin Harbour Board\n\nThe Orrin Harbour Board runs the port of Selby Marsh. "
                  "In March the passenger ferry Lady Corra briefly grounded on the Whelk Shoal in thick fog.\n")
    asked = [q for f in ferry if "Lady Corra" in f.span for q in rewrite.questions(f)]
    assert asked and not [q for q in asked if q.startswith(("Who", "Which person"))], asked
    # a firm's noun has no made-thing sense: its name is still asked "by whom"
    park = _read("park", "# Canal Park\n\nCanal Park is a park in Selby Marsh. It was designed by the landscape "
                 "practice Hollis Green.\n")
    assert any(q.startswith(("By whom", "Who")) for q in _questions(park, "the landscape practice Hollis Green"))


def test_a_superlative_subject_takes_the_noun_the_sentence_before_named():
    found = _read("port", "# The Orrin Harbour Board\n\nThe Orrin Harbour Board runs the port of Selby Marsh. "
                  "The board's pilots carried out 1,092 acts of pilotage, and reportable incidents fell from nine to "
                  "four. The most serious occurred on 22 March 2022, when a ferry grounded in fog.\n")
    asked = _questions(found, "22 March 2022")
    assert any("the most serious incident" in q for q in asked), asked
    assert not [q for q in asked if re.search(r"the most serious (?:occur|on)", q)], asked


def test_a_count_after_a_persons_work_belongs_to_the_work_not_the_person():
    found = _bio("During the war she designed the Corvane pontoon, a portable bridge that rested on 14 floats. "
                 "More than 1,900 sets were manufactured. She wrote 12 books.")
    assert "How many sets of the Corvane pontoon were manufactured?" in _questions(found, "More than 1,900 sets of "
                                                                                   "the Corvane pontoon")
    assert "How many books did Theodora Vask-Hallam write?" in _questions(found, "12 books")
