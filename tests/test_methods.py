"""Every registered method on the tiny model: it trains, counts its parameters right, saves and reloads to the
same logits, and (where it claims to) starts equal to the base model."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import torch
from peft import PeftModel

from workbench import models
from workbench.methods import METHODS, Method, MethodError, joint, lora, make_params
from workbench.methods import cora as cora_methods
from workbench.methods.common import adapters_disabled

# Small settings so each method runs in well under a second on the tiny model (2 blocks, hidden 64).
SMALL: dict[str, dict[str, Any]] = {
    "full": {},
    "freeze": {"train_last": 1},
    "lora": {"rank": 4, "dropout": 0.0},
    "qlora": {"rank": 4, "dropout": 0.0},
    "prefix": {"virtual_tokens": 4},
    "prefix+lora": {"rank": 4, "dropout": 0.0, "virtual_tokens": 4},
    "lora+prefix": {"rank": 4, "dropout": 0.0, "virtual_tokens": 4},
    "cora-fb": {"rank": 4, "dropout": 0.0},
    "cora-tb": {"rank": 4, "dropout": 0.0},
    "cora-zeros": {"rank": 4, "dropout": 0.0},
    "cora-ones": {"rank": 4, "dropout": 0.0},
    "cora-random": {"rank": 4, "dropout": 0.0},
}
# Methods that add virtual tokens change the output from the first step; all others start at the base.
ADDS_TOKENS = {"prefix", "prefix+lora", "lora+prefix"}
TEXTS = ["The capital of Zorbia is Quanta, a city of glass towers.", "Blue whales eat krill in cold seas."]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The tiny model gains nothing from threads, and on a busy CPU they wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def load_base(method: Method | None = None, params: Any = None) -> torch.nn.Module:
    kwargs = method.load_kwargs(params, "cpu") if method and method.load_kwargs else {}
    model, _, _ = models.load_model("tiny", precision="fp32", device="cpu", **kwargs)
    return model


@pytest.fixture(scope="module")
def batch(tiny_path) -> dict[str, torch.Tensor]:
    _, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    enc = tok(TEXTS, return_tensors="pt", padding=True)
    enc["labels"] = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    return dict(enc)


def built(name: str, **overrides: Any) -> tuple[Method, Any, torch.nn.Module]:
    method = METHODS[name]
    params = make_params(method, {**SMALL[name], **overrides})
    if method.check:
        method.check(params, "cpu")
    # Adapter weights are drawn from torch's global generator; seed it so a test does not depend on how
    # much randomness the tests before it used (an unlucky draw once made 4 rsLoRA steps raise the loss).
    torch.manual_seed(0)
    return method, params, method.build(load_base(method, params), params)


def optimizer(method: Method, params: Any, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    if method.param_groups:
        return torch.optim.AdamW(method.param_groups(model, params, lr), lr=lr)
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)


def train_steps(method: Method, params: Any, model: torch.nn.Module, batch: dict, steps: int = 4,
                lr: float | None = None, on_phase=None) -> None:
    """A small manual loop: AdamW over the method's groups; phases switch requires_grad like train.py does."""
    opt = optimizer(method, params, model, lr or method.default_lr)
    phases = method.phases(params) if method.phases else []
    starts, edge = {}, 0.0
    for phase in phases:
        starts[round(edge * steps)] = phase
        edge += phase.fraction
    learnable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    model.train()
    for step in range(steps):
        if step in starts:
            for n, p in learnable:
                p.requires_grad_(starts[step].trains(n))
            if on_phase:
                on_phase(starts[step], model)
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    for _, p in learnable:
        p.requires_grad_(True)
    model.eval()


def loss_of(model: torch.nn.Module, batch: dict) -> float:
    with torch.no_grad():
        return model(**batch).loss.item()


def logits_of(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    with torch.no_grad():
        return model(**batch).logits


def linear_shapes(model: torch.nn.Module, leaf_names: set[str] | None = None) -> list[tuple[int, int]]:
    """(out, in) of the linear layers LoRA targets: all but the output head, or those with the given names."""
    head = model.get_output_embeddings()
    return [tuple(m.weight.shape) for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and m is not head
            and (leaf_names is None or n.rsplit(".", 1)[-1] in leaf_names)]


# the registry ------------------------------------------------------------------------------------

def test_registry_is_complete_and_described():
    assert set(METHODS) == set(SMALL), "every registered method needs small test settings here"
    for name, method in METHODS.items():
        assert method.name == name and method.summary and method.default_lr > 0
        make_params(method, {})  # the defaults are valid
        for f in dataclasses.fields(method.params_cls):
            assert f.metadata.get("help"), f"{name}.{f.name} has no help text"
        if method.phases:
            assert sum(p.fraction for p in method.phases(make_params(method, {}))) == pytest.approx(1.0)


# every method -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_trains_saves_and_reloads(name, batch, tmp_path):
    method, params, model = built(name)
    before = loss_of(model, batch)
    train_steps(method, params, model, batch)
    after = loss_of(model, batch)
    if name == "cora-zeros":
        assert after == before  # B frozen at 0: B·A is 0 whatever A is
    else:
        assert after < before - 1e-4, f"{name}: loss {before:.5f} -> {after:.5f}"
    trained = logits_of(model, batch)
    method.save(model, tmp_path / "adapter")
    fresh = load_base(method, params)
    base = logits_of(fresh, batch)
    reloaded = method.load(fresh, tmp_path / "adapter")
    torch.testing.assert_close(logits_of(reloaded, batch), trained, rtol=0, atol=1e-6)
    if "full-model" in method.tags:
        with pytest.raises(MethodError, match="load the base model separately"), adapters_disabled(reloaded):
            pass
        return
    with adapters_disabled(reloaded):  # base behaviour from the tuned model, as side-by-side chat needs
        torch.testing.assert_close(logits_of(reloaded, batch), base, rtol=0, atol=1e-6)
    torch.testing.assert_close(logits_of(reloaded, batch), trained, rtol=0, atol=1e-6)


def test_4bit_base_answers_alike_in_train_and_eval_mode(batch):
    """bitsandbytes repacks 4-bit weights for a bf16 CPU kernel at the first eval-mode forward on CPUs with
    AVX512-BF16; that kernel rounds the scales and has no backward. The loaded base must keep the kernel that
    training uses, so eval answers, a state_dict round trip and a later training step all see the same weights."""
    method = METHODS["qlora"]
    params = make_params(method, SMALL["qlora"])
    model = load_base(method, params)
    first = logits_of(model, batch)
    packed = [n for n, m in model.named_modules()
              if getattr(getattr(getattr(m, "weight", None), "quant_state", None), "packing_format_for_cpu", False)]
    assert not packed, f"4-bit weights repacked for another kernel: {packed[:3]}"
    model.state_dict()  # unpacking a repacked weight would change it
    model.train()
    with torch.no_grad():
        trained_mode = model(**batch).logits
    model.eval()
    torch.testing.assert_close(trained_mode, first, rtol=0, atol=0)
    torch.testing.assert_close(logits_of(model, batch), first, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(set(METHODS) - ADDS_TOKENS))
def test_method_starts_equal_to_base(name, batch):
    method, params, model = built(name)
    reference = logits_of(load_base(method, params), batch)
    torch.testing.assert_close(logits_of(model, batch), reference, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(ADDS_TOKENS))
def test_prefix_methods_reach_the_model(name, batch):
    """Virtual tokens change the output from the start (so their gradient is not zero)."""
    method, params, model = built(name)
    assert not torch.allclose(logits_of(model, batch), logits_of(load_base(), batch))


# LoRA options -------------------------------------------------------------------------------------

LORA_VARIANTS = [{"init": i} for i in lora.INITS] + [
    {"dora": True}, {"rslora": True}, {"dora": True, "init": "gaussian"}, {"targets": "attention"},
    {"targets": "q_proj,o_proj", "rslora": True, "init": "pissa"}]


@pytest.mark.parametrize("options", LORA_VARIANTS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_lora_options_start_at_base_train_and_reload(options, batch, tmp_path):
    method, params, model = built("lora", **options)
    base = logits_of(load_base(), batch)
    torch.testing.assert_close(logits_of(model, batch), base, rtol=0, atol=1e-5)
    before = loss_of(model, batch)
    train_steps(method, params, model, batch, lr=1e-2)
    assert loss_of(model, batch) < before - 1e-3
    method.save(model, tmp_path / "a")
    reloaded = PeftModel.from_pretrained(load_base(), tmp_path / "a")  # plain peft, no workbench code
    torch.testing.assert_close(logits_of(reloaded, batch), logits_of(model, batch), rtol=0, atol=1e-5)


def test_pissa_is_saved_as_plain_lora_of_double_rank(batch, tmp_path):
    method, params, model = built("lora", init="pissa")
    train_steps(method, params, model, batch, lr=1e-2)
    method.save(model, tmp_path / "a")
    config = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["lora_alpha"] == 64 and config["init_lora_weights"] is True


# parameter counts ---------------------------------------------------------------------------------

def trainable(model: torch.nn.Module) -> int:
    return models.count_params(model)[0]


def test_lora_family_counts(tiny_path):
    base = load_base()
    r = 4
    lora_all = sum(r * (o + i) for o, i in linear_shapes(base))
    a_only = sum(r * i for _, i in linear_shapes(base))
    assert trainable(built("lora")[2]) == lora_all
    assert trainable(built("qlora")[2]) == lora_all
    assert trainable(built("cora-tb")[2]) == lora_all
    for name in ("cora-fb", "cora-zeros", "cora-ones", "cora-random"):
        assert trainable(built(name)[2]) == a_only, name
    # On square layers A and B have the same size: frozen B halves the trainable parameters exactly.
    square = {"targets": "q_proj,o_proj"}
    assert 2 * trainable(built("cora-fb", **square)[2]) == trainable(built("lora", **square)[2])
    qv = sum(r * (o + i) for o, i in linear_shapes(base, {"q_proj", "v_proj"}))
    assert trainable(built("lora", targets="attention")[2]) == qv


def test_prefix_and_joint_counts(tiny_path):
    config = load_base().config
    kv_dim = config.num_key_value_heads * (config.hidden_size // config.num_attention_heads)
    prefix = 4 * config.num_hidden_layers * 2 * kv_dim
    assert trainable(built("prefix")[2]) == prefix
    lora_all = trainable(built("lora")[2])
    for name in ("prefix+lora", "lora+prefix"):
        assert trainable(built(name)[2]) == prefix + lora_all


def test_full_and_freeze_counts(tiny_path):
    base = load_base()
    assert trainable(built("full")[2]) == models.count_params(base)[1]
    block = sum(p.numel() for p in base.model.layers[-1].parameters())
    norm = base.model.norm.weight.numel()
    assert trainable(built("freeze")[2]) == block + norm
    assert trainable(built("freeze", train_norm=False)[2]) == block
    assert trainable(built("freeze", train_last=2, train_norm=False)[2]) == 2 * block
    head = base.get_output_embeddings().weight.numel()  # tied with the input embeddings in the tiny model
    assert trainable(built("freeze", train_head=True)[2]) == block + norm + head


def test_freeze_keeps_lower_blocks_and_saves_a_whole_model(batch, tmp_path):
    method, params, model = built("freeze")
    lower = {n: p.detach().clone() for n, p in model.named_parameters() if ".layers.0." in n}
    upper = {n: p.detach().clone() for n, p in model.named_parameters() if ".layers.1." in n}
    train_steps(method, params, model, batch)
    named = dict(model.named_parameters())
    assert all(torch.equal(v, named[n]) for n, v in lower.items())
    assert any(not torch.equal(v, named[n]) for n, v in upper.items())
    method.save(model, tmp_path / "m")
    assert (tmp_path / "m" / "config.json").exists() and (tmp_path / "m" / "model.safetensors").exists()


# CoRA and its ablations ---------------------------------------------------------------------------

def b_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if ".lora_B." in n}


@pytest.mark.parametrize("name", ["cora-fb", "cora-zeros", "cora-ones", "cora-random"])
def test_frozen_b_keeps_its_values_through_training_and_reload(name, batch, tmp_path):
    method, params, model = built(name)
    start = {n: p.detach().clone() for n, p in b_weights(model).items()}
    assert start and not any(p.requires_grad for p in b_weights(model).values())
    for b in start.values():
        if name == "cora-zeros":
            assert torch.count_nonzero(b) == 0
        elif name == "cora-ones":
            assert torch.equal(b, torch.ones_like(b))
        else:  # a basis: orthonormal columns
            torch.testing.assert_close(b.T @ b, torch.eye(b.shape[1]), rtol=0, atol=1e-5)
    train_steps(method, params, model, batch)
    assert all(torch.equal(start[n], p) for n, p in b_weights(model).items())
    method.save(model, tmp_path / "a")
    reloaded = method.load(load_base(), tmp_path / "a")
    assert all(torch.equal(start[n], p) for n, p in b_weights(reloaded).items())
    config = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert config["init_lora_weights"] == "mica"  # peft's marker for a frozen B


def test_cora_a_gets_gradient_from_a_zero_start(batch):
    _, _, model = built("cora-fb")
    a = {n: p for n, p in model.named_parameters() if ".lora_A." in n}
    assert all(torch.count_nonzero(p) == 0 for p in a.values())
    model(**batch).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in a.values())
    assert all(p.grad is None for p in b_weights(model).values())
    _, _, zeros = built("cora-zeros")
    zeros(**batch).loss.backward()
    assert all(p.grad.abs().sum() == 0 for n, p in zeros.named_parameters() if ".lora_A." in n)


def test_cora_tb_trains_b_from_the_subspace(batch):
    method, params, model = built("cora-tb")
    start = {n: p.detach().clone() for n, p in b_weights(model).items()}
    assert all(p.requires_grad for p in b_weights(model).values())
    train_steps(method, params, model, batch)
    assert any(not torch.equal(start[n], p) for n, p in b_weights(model).items())


def test_cora_random_is_seeded(tiny_path):
    first = b_weights(built("cora-random", seed=3)[2])
    again = b_weights(built("cora-random", seed=3)[2])
    other = b_weights(built("cora-random", seed=4)[2])
    assert all(torch.equal(first[n], again[n]) for n in first)
    assert not all(torch.equal(first[n], other[n]) for n in first)


def test_cora_uses_a_saved_subspace(tmp_path):
    from workbench import cora

    base = load_base()
    subspace = cora.from_model(base, "all-linear", 6)
    cora.save(subspace, tmp_path / "sub")
    _, _, model = built("cora-fb", subspace=str(tmp_path / "sub"))
    for name, layer in cora_methods.lora_layers(model):
        torch.testing.assert_close(layer.lora_B["default"].weight, subspace.bases[name][:, :4], rtol=0, atol=0)
    with pytest.raises(MethodError, match="rank 6"):
        built("cora-fb", subspace=str(tmp_path / "sub"), rank=8)
    with pytest.raises(MethodError, match="not a CoRA subspace"):
        built("cora-tb", subspace=str(tmp_path))


# joint prefix + LoRA --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["prefix+lora", "lora+prefix"])
def test_sequential_joint_trains_one_part_per_phase(name, batch):
    method, params, model = built(name, mode="sequential")
    order = [p.name for p in method.phases(params)]
    assert order == (["prefix", "lora"] if name == "prefix+lora" else ["lora", "prefix"])
    seen: list[tuple[str, dict]] = []

    def snapshot(phase, m):
        seen.append((phase.name, {n: p.detach().clone() for n, p in m.named_parameters()
                                  if joint.is_lora(n) or joint.is_prefix(n)}))

    train_steps(method, params, model, batch, steps=6, lr=1e-2, on_phase=snapshot)
    final = {n: p.detach() for n, p in model.named_parameters()}
    (first, at_first), (second, at_second) = seen
    part = {"prefix": joint.is_prefix, "lora": joint.is_lora}
    # during the first phase only the first part moved; the second part moved only afterwards
    assert all(torch.equal(at_first[n], at_second[n]) for n in at_first if part[second](n))
    assert any(not torch.equal(at_first[n], at_second[n]) for n in at_first if part[first](n))
    assert all(torch.equal(at_second[n], final[n]) for n in at_second if part[first](n))
    assert any(not torch.equal(at_second[n], final[n]) for n in at_second if part[second](n))


def test_joint_learning_rates_and_simultaneous_mode(tiny_path):
    method, params, model = built("prefix+lora", mode="simultaneous", prefix_lr_scale=10.0)
    groups = {g["name"]: g for g in method.param_groups(model, params, 1e-3)}
    assert groups["lora"]["lr"] == 1e-3 and groups["prefix"]["lr"] == pytest.approx(1e-2)
    assert sum(p.numel() for g in groups.values() for p in g["params"]) == trainable(model)
    phases = method.phases(params)
    assert len(phases) == 1 and phases[0].trains("x.lora_A.default.weight")
    assert phases[0].trains("prompt_encoder.default.embedding.weight")


def test_joint_parts_load_with_plain_peft(batch, tmp_path):
    method, params, model = built("prefix+lora")
    train_steps(method, params, model, batch)
    method.save(model, tmp_path / "a")
    lora_only = PeftModel.from_pretrained(load_base(), tmp_path / "a" / "lora")
    prefix_only = PeftModel.from_pretrained(load_base(), tmp_path / "a" / "prefix")
    both = logits_of(model, batch)
    assert not torch.allclose(logits_of(lora_only, batch), both)
    assert not torch.allclose(logits_of(prefix_only, batch), both)
    with pytest.raises(MethodError, match="missing"):
        method.load(load_base(), tmp_path / "a" / "lora")


# QLoRA ----------------------------------------------------------------------------------------------

def test_qlora_quantises_the_base_and_refuses_a_full_precision_one(tmp_path):
    method, params, model = built("qlora")
    assert model.get_base_model().is_loaded_in_4bit
    layer = model.get_base_model().model.layers[0].self_attn.q_proj.base_layer
    assert layer.weight.__class__.__name__ == "Params4bit" and layer.weight.quant_type == "nf4"
    with pytest.raises(MethodError, match="4 bits"):
        method.build(load_base(), params)
    method.save(model, tmp_path / "a")
    with pytest.raises(MethodError, match="4 bits"):
        method.load(load_base(), tmp_path / "a")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_qlora_check_refuses_cuda_without_a_gpu():
    method = METHODS["qlora"]
    params = make_params(method, {})
    method.check(params, "cpu")
    with pytest.raises(MethodError, match="no CUDA GPU"):
        method.check(params, "cuda")
    with pytest.raises(MethodError, match="fp16 needs a CUDA GPU"):
        method.check(make_params(method, {"compute_dtype": "fp16"}), "cpu")


def test_qlora_check_refuses_a_missing_or_broken_bitsandbytes(monkeypatch):
    import sys

    import bitsandbytes.functional

    method = METHODS["qlora"]
    params = make_params(method, {})

    def no_kernel(*args, **kwargs):
        raise RuntimeError("no 4-bit kernel for this device")

    monkeypatch.setattr(bitsandbytes.functional, "quantize_4bit", no_kernel)
    with pytest.raises(MethodError, match="cannot quantise to 4 bits on cpu"):
        method.check(params, "cpu")
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    with pytest.raises(MethodError, match="needs the bitsandbytes package"):
        method.check(params, "cpu")


# refusals -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, values, message", [
    ("freeze", {"train_last": 3}, "only 2 transformer blocks"),
    ("lora", {"targets": "q_proj,wq"}, r"\['wq'\] are not in this model"),
    ("cora-fb", {"targets": "gate_proj", "rank": 65}, "exceeds the smallest dimension"),
    ("cora-ones", {"targets": "q_proj,embed_tokens"}, "not plain linear layers"),
    ("prefix+lora", {"targets": "attn_out"}, "not in this model"),
])
def test_invalid_settings_are_refused_at_build(name, values, message, tiny_path):
    with pytest.raises(MethodError, match=message):
        built(name, **values)


@pytest.mark.parametrize("name, values, message", [
    ("lora", {"init": "orthogonal", "rank": 3}, "even rank"),
    ("lora", {"init": "pissa", "dora": True}, "DoRA"),
    ("lora", {"init": "eva"}, "not one of"),
    ("lora", {"rank": 0}, "below the minimum"),
    ("qlora", {"init": "pissa"}, "not one of"),
    ("prefix+lora", {"mode": "alternating"}, "not one of"),
    ("cora-fb", {"ranks": 4}, "unknown setting"),
])
def test_invalid_params_are_refused_before_loading(name, values, message):
    with pytest.raises(MethodError, match=message):
        make_params(METHODS[name], values)


# the real model: parameter counts only ----------------------------------------------------------------

@pytest.mark.slow
def test_parameter_counts_on_smollm2():
    """Known answers on SmolLM2-135M (30 blocks, hidden 576, GQA 9/3): the LoRA, prefix and joint counts were
    measured with plain peft; cora-fb trains only A: r x (6 x 576 + 1536 input widths) x 30 blocks."""
    expected = {("lora", (("rank", 8), ("targets", "attention"))): 460_800,
                ("lora", (("rank", 8),)): 2_442_240,
                ("prefix", (("virtual_tokens", 16),)): 184_320,
                ("prefix+lora", (("rank", 8), ("targets", "attention"), ("virtual_tokens", 16))): 645_120,
                ("cora-fb", (("rank", 8),)): 1_198_080}
    for (name, values), count in expected.items():
        method = METHODS[name]
        model, _, _ = models.load_model("smollm2", precision="fp32", device="cpu")
        built_model = method.build(model, make_params(method, dict(values)))
        assert models.count_params(built_model)[0] == count, (name, values)



@pytest.mark.parametrize("name", sorted(n for n, m in METHODS.items() if m.load_kwargs is None))
def test_builds_on_a_weightless_copy_with_the_same_count(name, tiny_path):
    """Parameter previews build methods on the meta device: no values, same trainable count."""
    from transformers import AutoModelForCausalLM

    method, params, real = built(name)
    with torch.device("meta"):
        weightless = AutoModelForCausalLM.from_config(models.model_config("tiny"))
        assert models.count_params(method.build(weightless, params)) == models.count_params(real)


def test_auto_precision_on_a_cpu_is_bf16_only_where_the_trained_weights_stay_fp32(monkeypatch):
    import torch

    from workbench import methods as m
    from workbench import models

    assert m.precision_for("lora", "auto", "cpu") == "auto"
    for name in ("full", "freeze", "prefix", "joint", "qlora", "cora"):
        assert m.precision_for(name, "auto", "cpu") == "fp32", name
    assert m.precision_for("full", "bf16", "cpu") == "bf16"  # what the user asked for stands
    assert m.precision_for("full", "auto", "cuda") == "auto"
    models.cpu_has_bf16.cache_clear()
    monkeypatch.setenv("WORKBENCH_CPU_BF16", "0")
    assert models.pick_dtype("cpu", "auto") == torch.float32
    models.cpu_has_bf16.cache_clear()
    monkeypatch.delenv("WORKBENCH_CPU_BF16")
    assert models.pick_dtype("cpu", "auto", quantized=True) == torch.float32
    models.cpu_has_bf16.cache_clear()
