"""Model specs resolve to loadable folders, and bad specs fail with a message that says what to do."""

from __future__ import annotations

import pytest
import torch

from workbench import models


def test_tiny_model_loads_with_chat_template(tiny):
    model, tok = tiny
    assert model.config.num_hidden_layers == 2
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    trainable, total = models.count_params(model)
    assert trainable == total and 3_000_000 < total < 3_500_000


def test_tiny_model_is_the_same_every_time(tiny_path):
    a, _, _ = models.load_model("tiny", device="cpu")
    b, _, _ = models.load_model(tiny_path, device="cpu")
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(pa, pb), na


@pytest.mark.parametrize("spec, needle", [
    ("gpt-17", "unknown model 'gpt-17'"),
    ("./no/such/folder", "does not exist"),
    ("/tmp/definitely-missing.gguf", "GGUF file /tmp/definitely-missing.gguf does not exist"),
])
def test_bad_specs_are_refused(spec, needle):
    with pytest.raises(models.ModelError) as err:
        models.resolve(spec)
    assert needle in str(err.value)


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(models.ModelError, match="not a Hugging Face model folder"):
        models.resolve(str(tmp_path))


def test_unreadable_gguf_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(models.ModelError, match="cannot read the GGUF file"):
        models.resolve(str(bad))


def test_cpu_precision_choices():
    # auto: bf16 where the CPU multiplies bf16 natively, else fp32
    assert models.pick_dtype("cpu") == (torch.bfloat16 if models.cpu_has_bf16() else torch.float32)
    assert models.pick_dtype("cpu", "fp32") == torch.float32
    assert models.pick_dtype("cpu", "bf16") == torch.bfloat16
    with pytest.raises(models.ModelError, match="fp16 needs a CUDA GPU"):
        models.pick_dtype("cpu", "fp16")
    assert models.cpu_quota() >= 1
