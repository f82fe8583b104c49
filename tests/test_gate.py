"""Topic gate: quality on a held-out split, threshold behaviour, save/load round trip."""

from __future__ import annotations

import json

import pytest

from workbench import gate as g

# A made-up domain: questions about a small ferry company's services.
FERRY = [
    "What time does the first ferry leave Kelsey Quay on weekdays?",
    "Can I take my bicycle on the Morrow Island ferry?",
    "How much is a return ticket from Kelsey Quay to Morrow Island?",
    "Are dogs allowed on the Harbourline ferries?",
    "Do I need to book a car space on the ferry in advance?",
    "What happens to my ferry ticket if the crossing is cancelled for bad weather?",
    "How long is the crossing from Kelsey Quay to Morrow Island?",
    "Is there a café on board the Harbourline ferry?",
    "Can I buy ferry tickets at the terminal or only online?",
    "Does Harbourline offer a discount for students?",
    "Where do I park at the Kelsey Quay ferry terminal?",
    "How early should I arrive before my ferry departs?",
    "Is the ferry accessible for wheelchair users?",
    "What is the luggage allowance for foot passengers on the ferry?",
    "Does the last ferry from Morrow Island run on Sundays?",
    "Can I change the date of my Harbourline booking?",
    "Are there season tickets for commuters on the Morrow Island route?",
    "How do I get a refund for an unused ferry ticket?",
    "Does the ferry run during the winter storm season?",
    "Can children travel alone on the Harbourline ferry?",
    "Is there Wi-Fi on the Morrow Island ferry?",
    "How many cars can the ferry carry on each crossing?",
    "Where is the ticket office at Morrow Island harbour?",
    "Can I bring a motorbike on the Harbourline ferry?",
    "What is the timetable for the evening ferries in August?",
    "Do ferry tickets include the island bus connection?",
    "Are there lockers at the Kelsey Quay terminal?",
    "Can I take a kayak on the ferry to Morrow Island?",
    "How do I report lost property on a Harbourline ferry?",
    "Does Harbourline sell tickets for group school trips?",
    "Is the ferry crossing rough when the wind is from the west?",
    "Can I sit on the open deck during the ferry crossing?",
    "What ID do I need to board the ferry?",
    "How often does the ferry sail between the quay and the island in summer?",
    "Is there a ferry shuttle from the train station to Kelsey Quay?",
    "Can I bring my own food on board the ferry?",
    "Do I have to show my ferry ticket on my phone or printed?",
    "Are e-scooters allowed on the Harbourline ferries?",
    "What is the price of a single car ticket to Morrow Island?",
    "Can I book a cabin on the overnight ferry?",
]
UNSEEN_FERRY = ["Is the 7 am ferry to Morrow Island usually full?",
                "Can I take my horse trailer on the Harbourline car ferry?"]
UNSEEN_OFFTOPIC = ["What is a good recipe for banana bread?", "Who won the snooker championship in 1985?",
                   "How do I change the font size in a spreadsheet?"]


@pytest.fixture(scope="module")
def fitted():
    return g.fit_gate(FERRY, seed=0)


def test_offtopic_asset_is_large_and_varied():
    questions = g.load_offtopic_questions()
    assert len(questions) >= 300
    assert len(set(questions)) == len(questions)
    assert all(q.endswith(("?", ".", "？", "。")) for q in questions)


def test_precision_recall_on_held_out_split(fitted):
    gate, report = fitted
    assert report.n_test == sum(map(sum, report.confusion))
    assert report.n_in_domain == 8 and report.n_off_topic == report.n_test - 8  # 20% of 40 in-domain
    assert report.recall >= 0.75 and report.precision >= 0.75 and report.f1 >= 0.75
    (tn, fp), (fn, tp) = report.confusion
    assert report.precision == pytest.approx(tp / (tp + fp))
    assert report.recall == pytest.approx(tp / (tp + fn))
    assert report.accuracy == pytest.approx((tp + tn) / report.n_test)
    for q in UNSEEN_FERRY:
        assert gate.predict(q)[0], q
    for q in UNSEEN_OFFTOPIC:
        assert not gate.predict(q)[0], q


def test_evaluate_counts_by_hand(fitted):
    gate, _ = fitted
    report = gate.evaluate(UNSEEN_FERRY, UNSEEN_OFFTOPIC)
    assert report.confusion == [[3, 0], [0, 2]]
    assert (report.precision, report.recall, report.f1, report.accuracy) == (1.0, 1.0, 1.0, 1.0)


def test_threshold_behaviour(fitted):
    gate, _ = fitted
    probs = gate.probabilities(UNSEEN_FERRY + UNSEEN_OFFTOPIC)
    assert all(0.0 <= p <= 1.0 for p in probs)
    question = UNSEEN_FERRY[0]
    ok, prob = gate.predict(question)
    assert ok and prob == pytest.approx(probs[0])
    assert gate.with_threshold(prob).predict(question)[0]  # reaching the threshold counts as in-domain
    assert not gate.with_threshold(min(1.0, prob + 1e-6)).predict(question)[0]
    assert all(ok for ok, _ in gate.with_threshold(0.0).predict_many(UNSEEN_OFFTOPIC))
    with pytest.raises(g.GateError, match="between 0 and 1"):
        gate.with_threshold(1.5)


def test_save_load_round_trip(fitted, tmp_path):
    gate, report = fitted
    gate = gate.with_threshold(0.6)
    folder = gate.save(tmp_path / "run" / "gate")
    meta = json.loads((folder / g.META_FILE).read_text())
    assert meta["threshold"] == 0.6 and meta["report"]["confusion"] == report.confusion
    assert meta["refusal_message"] == g.DEFAULT_REFUSAL and meta["n_in_domain"] == len(FERRY)
    loaded = g.TopicGate.load(folder)
    questions = UNSEEN_FERRY + UNSEEN_OFFTOPIC
    assert loaded.probabilities(questions) == pytest.approx(gate.probabilities(questions), abs=1e-12)
    assert loaded.threshold == 0.6 and loaded.report == report
    assert not list(folder.glob("*.tmp"))


def test_user_negatives_and_custom_message(tmp_path):
    negatives = ["How do I book a train to the airport?", "What time does the airport bus leave?"]
    gate, _ = g.fit_gate(FERRY, negatives, refusal_message="Only ferry questions, please.", seed=1)
    assert gate.info["user_negatives"] == 2 and gate.refusal_message == "Only ferry questions, please."
    assert gate.info["n_off_topic"] == len(g.load_offtopic_questions()) + 2
    assert g.TopicGate.load(gate.save(tmp_path / "g")).refusal_message == "Only ferry questions, please."


def test_errors(tmp_path):
    with pytest.raises(g.GateError, match="at least 5 distinct in-domain"):
        g.fit_gate(FERRY[:3])
    with pytest.raises(g.GateError, match="at least 5 distinct off-topic"):
        g.fit_gate(FERRY, ["What is jazz?"], use_builtin_offtopic=False)
    with pytest.raises(g.GateError, match="no topic gate"):
        g.TopicGate.load(tmp_path)
    with pytest.raises(g.GateError, match="test_fraction"):
        g.fit_gate(FERRY, test_fraction=0.9)


def test_saved_gate_holds_no_pickle_and_old_pickled_gates_are_refused(fitted, tmp_path):
    gate, _ = fitted
    folder = gate.save(tmp_path / "gate")
    assert sorted(p.name for p in folder.iterdir()) == sorted([g.MODEL_FILE, g.VOCAB_FILE, g.META_FILE])
    # a pickle stream starts with the PROTO opcode; safetensors starts with its little-endian header length
    assert not (folder / g.MODEL_FILE).read_bytes().startswith(b"\x80")
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.joblib").write_bytes(b"\x80\x04not loaded")
    (old / g.META_FILE).write_text(json.dumps({"format": 1, "threshold": 0.5}))
    with pytest.raises(g.GateError, match="format 1.*fit the gate again"):
        g.TopicGate.load(old)
    (folder / g.MODEL_FILE).write_bytes(b"truncated")
    with pytest.raises(g.GateError, match="cannot read the topic gate's model.safetensors"):
        g.TopicGate.load(folder)
