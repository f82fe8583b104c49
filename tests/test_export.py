"""A run leaves the workbench: the merged export loads in a process that never imports workbench and answers
as the workbench's tuned model does; runs carry a model card and a portable base name; what cannot be
exported (prefix tuning, GGUF without a converter, the hub without a token) is refused with a reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import districts_workspace, tiny_train_config, train_tiny

from workbench import jobs
from workbench.__main__ import main
from workbench.config import GenParams
from workbench.export import ExportError, export_gguf, export_merged, push_to_hub
from workbench.rundir import RunDir
from workbench.workspace import Workspace

QUESTIONS = ["What is the code name of district 3?", "Who runs district 1?", "Where is the depot?"]
STRANGER = """
import json, sys
from transformers import AutoModelForCausalLM, AutoTokenizer
folder, questions = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForCausalLM.from_pretrained(folder)
tok = AutoTokenizer.from_pretrained(folder)
out = []
for q in questions:
    ids = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    new = model.generate(**ids, max_new_tokens=12, do_sample=False)[0][ids["input_ids"].shape[1]:]
    out.append(tok.decode(new, skip_special_tokens=True))
assert not any(name.startswith("workbench") for name in sys.modules)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    return districts_workspace(tmp_path_factory, "exportws")


@pytest.fixture(scope="module")
def lora_run(ws) -> RunDir:
    return train_tiny(ws, ws.datasets / "districts", "lora", max_steps=16)


def test_a_stranger_loads_the_merged_model_and_gets_the_tuned_models_greedy_answers(lora_run, tmp_path):
    from workbench.chat import build_messages
    from workbench.generation import generate_batch
    from workbench.methods.loading import load_tuned

    out = export_merged(lora_run.path, tmp_path / "merged")
    assert (out / "model.safetensors").is_file() and (out / "tokenizer_config.json").is_file()
    assert not (out / "adapter_config.json").exists()  # a plain model, not an adapter
    tuned = load_tuned(lora_run.path, device="cpu", precision="fp32")
    greedy = GenParams(max_new_tokens=12, repetition_penalty=1.0)
    ours = [generate_batch(tuned.model, tuned.tokenizer, [build_messages(q)], greedy)[0] for q in QUESTIONS]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", STRANGER, str(out), json.dumps(QUESTIONS)], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [t.strip() for t in theirs] == [o.strip() for o in ours]
    card = (out / "README.md").read_text()
    assert "base_model: tiny" in card and "library_name: transformers" in card and "## Scores" in card


def test_a_trained_run_has_a_model_card_and_records_its_base(lora_run):
    source = json.loads((lora_run.path / "base_model.json").read_text())
    assert source["spec"] == "tiny" and source["resolved"]
    card = (lora_run.adapter / "README.md").read_text()
    assert "base_model: tiny" in card and "library_name: peft" in card and "- method parameters:" in card
    assert "train.jsonl: sha256" in card  # the pinned data it trained on
    config = json.loads((lora_run.adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny"  # not this machine's cache folder


def test_what_cannot_be_exported_is_refused_with_a_reason(ws, lora_run, tmp_path, monkeypatch, capsys):
    prefix = jobs.create_run(ws, "train", {"train": tiny_train_config(ws.datasets / "districts", method="prefix")},
                             run_id="prefix")
    with pytest.raises(ExportError, match="virtual tokens"):
        export_merged(prefix.path)
    monkeypatch.delenv("WORKBENCH_GGUF_CONVERTER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExportError, match="convert_hf_to_gguf.py"):
        export_gguf(lora_run.path)
    monkeypatch.setenv("WORKBENCH_HOME", str(ws.root))
    assert main(["export", "lora", "--to", "gguf"]) == 2
    assert "convert_hf_to_gguf.py" in capsys.readouterr().err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ExportError, match="HF_HUB_OFFLINE"):
        push_to_hub(lora_run.path, "someone/model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ExportError, match="no Hugging Face token"):
        push_to_hub(lora_run.path, "someone/model")
    assert main(["export", "lora", "--to", "hub"]) == 2
    assert "--repo" in capsys.readouterr().err


def test_gguf_export_runs_the_installed_converter_on_the_merged_folder(lora_run, tmp_path, monkeypatch):
    converter = tmp_path / "convert_hf_to_gguf.py"
    converter.write_text("import sys, pathlib\nargs = sys.argv[1:]\nassert pathlib.Path(args[0], 'config.json')"
                         ".is_file()\npathlib.Path(args[args.index('--outfile') + 1]).write_bytes(b'GGUF')\n")
    monkeypatch.setenv("WORKBENCH_GGUF_CONVERTER", str(converter))
    out = export_gguf(lora_run.path, tmp_path / "model.gguf")
    assert out.read_bytes() == b"GGUF"


def test_the_app_exports_in_a_worker_job(ws, lora_run):
    from workbench.export import start_job

    job = start_job(ws, lora_run.path, "merged")
    assert jobs.wait(job, timeout=300) == "finished", job.log_tail(20)
    result = job.read_status()["result"]
    assert result["source"] == "lora" and (lora_run.path / "export" / "merged" / "model.safetensors").is_file()
    with pytest.raises(ExportError, match="hub needs the command line"):
        start_job(ws, lora_run.path, "hub")


JOINT_STRANGER = """
import json, sys
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
base_folder, folder, question = sys.argv[1], sys.argv[2], sys.argv[3]
base = AutoModelForCausalLM.from_pretrained(base_folder)
with_lora = PeftModel.from_pretrained(base, folder + '/lora').get_base_model()
model = PeftModel.from_pretrained(with_lora, folder + '/prefix').eval()
tok = AutoTokenizer.from_pretrained(folder)
with torch.no_grad():
    logits = model(**tok(question, return_tensors="pt")).logits[0, -1]
assert not any(name.startswith("workbench") for name in sys.modules)
print(json.dumps(logits.tolist()))
"""


def test_a_joint_run_loads_in_one_call_and_with_peft_alone_as_its_card_says(ws, tmp_path):
    import torch

    import workbench
    from workbench import models

    run = train_tiny(ws, ws.datasets / "districts", "joint", method="prefix+lora", max_steps=8,
                     method_params={"mode": "simultaneous", "rank": 4, "targets": "attention", "virtual_tokens": 4})
    model, tok = workbench.load_run(run.path, device="cpu")
    with torch.no_grad():
        ours = model(**tok(QUESTIONS[0], return_tensors="pt")).logits[0, -1]
    card = (run.adapter / "README.md").read_text()
    assert "model, tokenizer = workbench.load_run(RUN_FOLDER)" in card and "FOLDER + '/prefix'" in card
    base, _, _ = models.load_model("tiny", precision="fp32", device="cpu")
    with torch.no_grad():
        assert not torch.allclose(base(**tok(QUESTIONS[0], return_tensors="pt")).logits[0, -1], ours, atol=1e-3)
    base.save_pretrained(tmp_path / "base")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", JOINT_STRANGER, str(tmp_path / "base"), str(run.adapter),
                           QUESTIONS[0]], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = torch.tensor(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert torch.allclose(theirs, ours, atol=1e-5)
