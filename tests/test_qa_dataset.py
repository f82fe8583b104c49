"""Dataset folders: split, load, export/re-import round trips, LLaMA-Factory entries, editing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from workbench.qa import dataset, formats
from workbench.qa.dataset import DatasetError


def make_pairs(n_passages: int = 5, per_passage: int = 4) -> list[dict]:
    pairs = []
    for p in range(n_passages):
        for k in range(per_passage):
            group = f"p{p}-f{k // 2}"
            pairs.append({"id": f"p{p}-q{k}", "question": f"Question {k} about passage {p}?",
                          "answer": f"Answer {k} for passage {p} is {1990 + p}.", "passage_id": f"p{p}",
                          "source": "doc.txt", "group": group, "kind": "original" if k % 2 == 0 else "paraphrase",
                          "passage": f"Passage {p} text: Answer {k} for passage {p} is {1990 + p}."})
    return pairs


def make_folder(tmp_path: Path, name: str = "demo") -> Path:
    pairs = make_pairs()
    train, test = dataset.split_pairs(pairs, 0.2, seed=1, by="passage")
    folder = tmp_path / name
    dataset.write_dataset(folder, train=train, test=test, passages=[{"id": f"p{p}", "text": "t"} for p in range(5)],
                          dropped=[], report={"counts": {"train": len(train), "test": len(test)}}, config={})
    return folder


# split -----------------------------------------------------------------------------------------------

def test_split_by_passage_is_seeded_and_never_shares_a_passage():
    pairs = make_pairs()
    train, test = dataset.split_pairs(pairs, 0.2, seed=7, by="passage")
    assert len(test) == 4 and len(train) == 16
    assert not {p["passage_id"] for p in train} & {p["passage_id"] for p in test}
    assert dataset.split_pairs(pairs, 0.2, seed=7, by="passage") == (train, test)
    other = [dataset.split_pairs(pairs, 0.2, seed=s, by="passage")[1][0]["passage_id"] for s in range(10)]
    assert len(set(other)) > 1  # the seed matters
    assert [p["id"] for p in train] == [p["id"] for p in pairs if p in train]  # input order kept


def test_split_by_pair_keeps_paraphrases_together():
    train, test = dataset.split_pairs(make_pairs(), 0.25, seed=3, by="pair")
    assert len(test) == 6  # 20 pairs * 0.25 = 5, whole groups of 2
    assert not {p["group"] for p in train} & {p["group"] for p in test}


def test_split_by_paraphrase_holds_out_rewordings_of_trained_facts():
    train, test = dataset.split_pairs(make_pairs(), 0.2, seed=3, by="paraphrase")
    assert len(test) == 4
    assert all(p["kind"] == "paraphrase" for p in test)
    assert {p["group"] for p in test} <= {p["group"] for p in train}


def test_split_by_paraphrase_takes_wordings_from_the_facts_that_have_three_or_more_first():
    """A fact asked in two wordings keeps both while others have wordings to spare; each fact gives at most one,
    and none loses its last."""
    sizes = {"six": 6, "five": 5, "four": 4, "three": 3, "two-a": 2, "two-b": 2, "two-c": 2, "one": 1}
    pairs = [{"id": f"{g}-{k}", "question": f"Q {g} {k}?", "answer": f"A {g}.", "group": g}
             for g, n in sizes.items() for k in range(n)]
    for seed in range(5):
        train, test = dataset.split_pairs(pairs, 0.15, seed=seed, by="paraphrase")
        assert len(test) == 4  # 25 pairs * 0.15
        assert sorted(p["group"] for p in test) == ["five", "four", "six", "three"]
    assert dataset.split_pairs(pairs, 0.15, seed=5, by="paraphrase") == (train, test)
    # asked for more than the facts with three or more can give: two-wording facts give one, in seeded order
    _, test = dataset.split_pairs(pairs, 0.2, seed=5, by="paraphrase")
    assert len(test) == 5 and sum(p["group"].startswith("two") for p in test) == 1
    train, test = dataset.split_pairs(pairs, 0.9, seed=5, by="paraphrase")
    assert len(test) == 7 and {p["group"] for p in train} == set(sizes)  # one from each fact with two or more


def test_split_edge_cases():
    assert dataset.split_pairs(make_pairs(1, 2), 0.5, by="passage") == (make_pairs(1, 2), [])  # one passage only
    assert dataset.split_pairs(make_pairs(), 0.0)[1] == []
    with pytest.raises(DatasetError):
        dataset.split_pairs(make_pairs(), 1.0)


# load -------------------------------------------------------------------------------------------------

def test_load_pairs_and_split_from_folder_and_jsonl(tmp_path: Path):
    folder = make_folder(tmp_path)
    train, test = dataset.load_split(folder, "train"), dataset.load_split(folder, "test")
    assert len(train) + len(test) == 20 and test
    assert dataset.load_pairs(folder) == train + test
    loose = tmp_path / "loose.jsonl"
    loose.write_text('{"question": "Q one?", "answer": "A one."}\n\n{"instruction": "Q two?", "output": "A two."}\n')
    assert [(p["question"], p["answer"]) for p in dataset.load_pairs(loose)] == [("Q one?", "A one."),
                                                                                ("Q two?", "A two.")]
    assert dataset.load_split(loose, "test") == []


def test_load_errors_name_the_line(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "answer": "yes"}\n{"question": "no answer?"}\n')
    with pytest.raises(DatasetError, match="bad.jsonl line 2 has no question/answer"):
        dataset.load_pairs(bad)
    bad.write_text('{"question": "ok?", "answer": "yes"}\nnot json\n')
    with pytest.raises(DatasetError, match="line 2 is not valid JSON"):
        dataset.load_pairs(bad)
    with pytest.raises(DatasetError, match="not a dataset folder"):
        dataset.load_split(tmp_path, "train")


# export / import ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt"])
def test_export_reimport_round_trip(tmp_path: Path, fmt: str):
    folder = make_folder(tmp_path)
    written = formats.export(folder, fmt, system="You answer questions about Vellmouth.")
    info = json.loads(written["dataset_info"].read_text())
    for split in ("train", "test"):
        records = json.loads(written[split].read_text())
        entry = info[f"demo_{split}_{fmt}"]
        assert entry["file_name"] == written[split].name
        assert entry["columns"]["system"] == "system"
        if fmt == "alpaca":
            assert set(records[0]) == {"instruction", "input", "output", "system", *formats.EXTRAS, "keys"}
            assert "formatting" not in entry and entry["columns"]["prompt"] == "instruction"
        else:
            assert records[0]["conversations"][0]["from"] == "human"
            assert entry["formatting"] == "sharegpt" and entry["columns"]["messages"] == "conversations"
        again = dataset.import_pairs(written[split])
        original = dataset.load_split(folder, split)
        assert [(p["question"], p["answer"]) for p in again] == [(p["question"], p["answer"]) for p in original]


def test_export_merges_dataset_info(tmp_path: Path):
    folder = make_folder(tmp_path)
    out = tmp_path / "llamafactory-data"
    formats.export(folder, "alpaca", out_dir=out)
    formats.export(folder, "sharegpt", out_dir=out)
    assert sorted(json.loads((out / "dataset_info.json").read_text())) == [
        "demo_test_alpaca", "demo_test_sharegpt", "demo_train_alpaca", "demo_train_sharegpt"]


def test_messages_export_loads_with_datasets_and_a_chat_template(tmp_path: Path):
    """TRL's SFT trainer reads a "messages" column and renders it with the tokenizer's chat template; both
    steps are done here with the libraries themselves."""
    datasets = pytest.importorskip("datasets")
    from workbench import models

    folder = make_folder(tmp_path)
    pairs = dataset.load_split(folder, "train")
    pairs[0]["keys"], pairs[0]["fact_id"] = ["1887"], "f-123"
    dataset.write_jsonl(folder / "train.jsonl", pairs)
    written = formats.export(folder, "messages", system="You answer questions about Vellmouth.")
    loaded = datasets.load_dataset("json", data_files={"train": str(written["train"]), "test": str(written["test"])})
    row = loaded["train"][0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][1]["content"] == pairs[0]["question"] and row["keys"] == ["1887"]
    assert row["fact_id"] == "f-123" and row["source"] == pairs[0]["source"]
    tok = models.load_tokenizer("tiny")
    text = tok.apply_chat_template(row["messages"], tokenize=False)
    assert pairs[0]["question"] in text and pairs[0]["answer"] in text
    entry = json.loads(written["dataset_info"].read_text())["demo_train_messages"]
    assert entry["formatting"] == "sharegpt" and entry["tags"]["role_tag"] == "role"


def test_hf_export_round_trips_through_load_from_disk(tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    folder = make_folder(tmp_path)
    written = formats.export(folder, "hf", out_dir=tmp_path / "out")
    dd = datasets.load_from_disk(str(written["hf"]))
    assert dd["train"][0]["question"] == dataset.load_split(folder, "train")[0]["question"]
    assert "keys" in dd["train"].column_names and "source" in dd["train"].column_names


def test_export_into_a_llamafactory_data_folder_adds_entries_and_keeps_the_others(tmp_path: Path):
    folder = make_folder(tmp_path)
    data = tmp_path / "LLaMA-Factory" / "data"
    with pytest.raises(DatasetError, match="no dataset_info.json"):
        formats.export(folder, "alpaca", into=data)
    data.mkdir(parents=True)
    theirs = {"identity": {"file_name": "identity.json"}, "alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}
    (data / "dataset_info.json").write_text(json.dumps(theirs, indent=2))
    formats.export(folder, "sharegpt", into=data)
    info = json.loads((data / "dataset_info.json").read_text())
    assert {k: info[k] for k in theirs} == theirs
    assert info["demo_train_sharegpt"]["file_name"] == "demo_train_sharegpt.json"
    assert (data / "demo_train_sharegpt.json").is_file()
    with pytest.raises(DatasetError, match="unknown export format"):
        formats.export(folder, "csv")


def test_csv_import_and_import_dataset(tmp_path: Path):
    csv_file = tmp_path / "qa.csv"
    csv_file.write_text('Question,Answer,Notes\n"When did the tram open?","On 12 September 2009.",x\n'
                        '"How long is the bridge, in metres?","280 metres.",y\n', encoding="utf-8")
    pairs = dataset.import_csv(csv_file)
    assert [(p["question"], p["answer"]) for p in pairs] == [("When did the tram open?", "On 12 September 2009."),
                                                             ("How long is the bridge, in metres?", "280 metres.")]
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="cannot find question/answer columns"):
        dataset.import_csv(tmp_path / "other.csv")
    report = dataset.import_dataset([csv_file], tmp_path / "imported", test_fraction=0.5, seed=0)
    assert report["counts"]["kept"] == 2 and report["counts"]["test"] == 1
    assert len(dataset.load_pairs(tmp_path / "imported")) == 2


def test_to_hf_dataset(tmp_path: Path):
    folder = make_folder(tmp_path)
    dd = formats.to_hf_dataset(folder)
    assert set(dd) == {"train", "test"}
    assert dd["train"].num_rows + dd["test"].num_rows == 20
    assert dd["train"][0]["question"] == dataset.load_split(folder, "train")[0]["question"]


# editing -------------------------------------------------------------------------------------------------

def test_edit_delete_add(tmp_path: Path):
    folder = make_folder(tmp_path)
    first = dataset.load_split(folder, "train")[0]
    edited = dataset.edit_pair(folder, first["id"], answer="A corrected answer for 1990.")
    assert edited["edited"] is True and edited["answer"] == "A corrected answer for 1990."
    assert "grounding" in edited["scores"]
    reloaded = dataset.load_split(folder, "train")
    assert reloaded[0]["answer"] == "A corrected answer for 1990." and len(reloaded) == 16

    gone = dataset.delete_pair(folder, first["id"])
    assert gone["drop_reason"] == "deleted by hand"
    assert first["id"] not in {p["id"] for p in dataset.load_pairs(folder)}
    assert dataset.read_jsonl(folder / "dropped.jsonl")[-1]["id"] == first["id"]

    added = dataset.add_pair(folder, "Who chaired the committee?", "Ines Carraway.", split="test")
    assert added["id"] in {p["id"] for p in dataset.load_split(folder, "test")}
    report = dataset.read_report(folder)
    assert report["counts"]["train"] == 15 and report["counts"]["test"] == 5
    assert report["edits"] == {"edited": 1, "deleted": 1, "added": 1}

    train = dataset.load_split(folder, "train")
    train[1]["keys"] = ["1990|MCMXC"]
    dataset.write_jsonl(folder / "train.jsonl", train)
    keyed = train[1]
    dataset.edit_pair(folder, keyed["id"], answer="It opened in 1990.")
    dataset.edit_pair(folder, keyed["id"], question="When did it open?")
    assert dataset.load_split(folder, "train")[1].get("keys") == ["1990|MCMXC"]
    assert "keys" not in dataset.edit_pair(folder, keyed["id"], answer="It opened in the spring.")

    with pytest.raises(DatasetError, match="no pair with id"):
        dataset.edit_pair(folder, "missing", answer="x")
    with pytest.raises(DatasetError, match="cannot be empty"):
        dataset.edit_pair(folder, added["id"], question=" ")


def test_concurrent_adds_lose_nothing(tmp_path: Path):
    folder = make_folder(tmp_path)
    errors = []

    def worker(k: int) -> None:
        try:
            for i in range(5):
                dataset.add_pair(folder, f"Thread {k} question {i}?", f"Answer {k}.{i}.")
        except DatasetError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(dataset.load_split(folder, "train")) == 16 + 20
