"""Common-subspace extraction: known SVD answers, averaging over sources of every kind, the artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from peft import PeftModel

from workbench import cora, models
from workbench.methods import METHODS, make_params


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def load_tiny() -> torch.nn.Module:
    return models.load_model("tiny", precision="fp32", device="cpu")[0]


def projector(basis: torch.Tensor) -> torch.Tensor:
    """B·Bᵀ: the same for any sign or rotation of an orthonormal basis of one subspace."""
    return basis @ basis.T


# known answers ------------------------------------------------------------------------------------

def test_explained_curve_known_answer():
    curve = cora.explained_curve(torch.tensor([3.0, 2.0, 1.0]))
    torch.testing.assert_close(curve, torch.tensor([9 / 14, 13 / 14, 1.0], dtype=torch.float64))


def test_top_directions_recover_a_planted_subspace():
    torch.manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(40, 40))
    v, _ = torch.linalg.qr(torch.randn(24, 24))
    s = torch.tensor([10.0, 8.0, 6.0] + [0.1] * 21)
    weight = u[:, :24] @ torch.diag(s) @ v.T
    basis, singular = cora.top_directions(weight, 3)
    assert basis.shape == (40, 3)
    torch.testing.assert_close(projector(basis), projector(u[:, :3]), rtol=0, atol=1e-5)
    torch.testing.assert_close(singular, s, rtol=0, atol=1e-4)
    with pytest.raises(cora.CoraError, match="exceeds the smallest dimension 24"):
        cora.top_directions(weight, 25)


def test_subspace_of_one_model_is_orthonormal_with_monotone_curves(tiny_path):
    model = load_tiny()
    sub = cora.from_model(model, "all-linear", 8)
    assert len(sub.bases) == 14  # 7 linear layers x 2 blocks, the output head excluded
    for name, basis in sub.bases.items():
        out_features = model.get_submodule(name).weight.shape[0]
        assert basis.shape == (out_features, 8)
        torch.testing.assert_close(basis.T @ basis, torch.eye(8), rtol=0, atol=1e-5)
    curves = [sub.meta["curve"], *sub.meta["curve_by_kind"].values()]
    for curve in curves:
        assert all(a <= b + 1e-9 for a, b in zip(curve, curve[1:]))
        assert curve[-1] == pytest.approx(1.0, abs=1e-6)
    assert set(sub.meta["curve_by_kind"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                              "down_proj"}
    name = "model.layers.0.self_attn.q_proj"
    s = torch.linalg.svdvals(model.get_submodule(name).weight.detach().double())
    expected = float((s[:8] ** 2).sum() / (s ** 2).sum())
    assert sub.meta["modules"][name]["explained"] == pytest.approx(expected, abs=1e-5)


# sources and averaging ----------------------------------------------------------------------------

@pytest.fixture()
def sources(tmp_path, tiny_path):
    """A changed full model, a LoRA adapter folder and a run folder holding that adapter."""
    torch.manual_seed(1)
    full = load_tiny()
    with torch.no_grad():
        for p in full.parameters():
            p.add_(0.05 * torch.randn_like(p))
    full.save_pretrained(tmp_path / "full")

    method = METHODS["lora"]
    adapted = method.build(load_tiny(), make_params(method, {"rank": 4, "targets": "attention"}))
    with torch.no_grad():
        for n, p in adapted.named_parameters():
            if ".lora_B." in n:
                p.normal_(0, 0.5)
    method.save(adapted, tmp_path / "adapter")
    run = tmp_path / "run"
    method.save(adapted, run / "adapter")
    (run / "config.json").write_text(json.dumps({"train": {"model": tiny_path, "method": "lora"}}))
    merged = {n: m.weight.detach().clone() for n, m in adapted.merge_and_unload().named_modules()
              if isinstance(m, torch.nn.Linear)}
    return {"full": tmp_path / "full", "adapter": tmp_path / "adapter", "run": run, "merged": merged,
            "full_model": full}


def test_sources_are_classified(sources, tiny_path):
    assert cora.describe_source("tiny").kind == "model"
    assert cora.describe_source(str(sources["full"])).kind == "model"
    lora_adapter = cora.describe_source(str(sources["adapter"]))
    assert lora_adapter.kind == "lora-adapter" and lora_adapter.model == tiny_path
    run = cora.describe_source(str(sources["run"]))
    assert run.kind == "lora-run" and run.adapter == str(sources["run"] / "adapter")


def test_extract_averages_the_sources_then_takes_the_svd(sources):
    specs = ["tiny", str(sources["full"]), str(sources["run"])]
    sub = cora.extract(specs, rank=4, targets="attention")
    assert sorted(sub.bases) == sorted(f"model.layers.{i}.self_attn.{k}_proj" for i in (0, 1) for k in "qv")
    base = load_tiny()
    for name, basis in sub.bases.items():
        mean = (base.get_submodule(name).weight + sources["full_model"].get_submodule(name).weight
                + sources["merged"][name]) / 3
        expected, _ = cora.top_directions(mean.detach(), 4)
        torch.testing.assert_close(projector(basis), projector(expected), rtol=0, atol=1e-4)
    assert [s["kind"] for s in sub.meta["sources"]] == ["model", "model", "lora-run"]


def test_lora_source_is_merged_into_its_base(sources):
    """A single adapter source gives the subspace of base + B·A, not of the base."""
    from_adapter = cora.extract([str(sources["adapter"])], rank=4, targets="attention")
    name = "model.layers.0.self_attn.q_proj"
    expected, _ = cora.top_directions(sources["merged"][name], 4)
    torch.testing.assert_close(projector(from_adapter.bases[name]), projector(expected), rtol=0, atol=1e-4)
    plain = cora.from_model(load_tiny(), "attention", 4)
    assert not torch.allclose(projector(plain.bases[name]), projector(expected), atol=1e-3)


def test_artifact_round_trip(tmp_path, tiny_path):
    sub = cora.extract(["tiny"], rank=6, targets="q_proj,down_proj")
    out = cora.build_artifact(["tiny"], tmp_path / "sub", rank=6, targets="q_proj,down_proj")
    loaded = cora.load(out)
    assert loaded.meta == json.loads(json.dumps(sub.meta)) | {"created_at": loaded.meta["created_at"]}
    assert loaded.rank == 6 and sorted(loaded.bases) == sorted(sub.bases)
    for name in sub.bases:
        torch.testing.assert_close(loaded.bases[name], sub.bases[name], rtol=0, atol=0)
        torch.testing.assert_close(loaded.basis(name, 2), sub.bases[name][:, :2], rtol=0, atol=0)
    with pytest.raises(cora.CoraError, match="rank 6"):
        loaded.basis("model.layers.0.self_attn.q_proj", 7)
    with pytest.raises(cora.CoraError, match="no basis"):
        loaded.basis("model.layers.0.self_attn.v_proj", 2)


def test_cora_fb_built_on_an_artifact_saves_its_basis(tmp_path, tiny_path):
    cora.build_artifact(["tiny"], tmp_path / "sub", rank=4, targets="attention")
    method = METHODS["cora-fb"]
    model = method.build(load_tiny(), make_params(method, {"rank": 4, "targets": "attention",
                                                          "subspace": str(tmp_path / "sub")}))
    method.save(model, tmp_path / "adapter")
    reloaded = PeftModel.from_pretrained(load_tiny(), tmp_path / "adapter")
    sub = cora.load(tmp_path / "sub")
    layer = reloaded.get_base_model().model.layers[1].self_attn.v_proj
    torch.testing.assert_close(layer.lora_B["default"].weight, sub.bases["model.layers.1.self_attn.v_proj"])


# refusals -----------------------------------------------------------------------------------------

def test_mismatched_sources_are_refused(tmp_path, tiny_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**{**models.TINY_CONFIG, "hidden_size": 32, "intermediate_size": 64}, vocab_size=128)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "other")
    with pytest.raises(cora.CoraError, match="one architecture"):
        cora.extract(["tiny", str(tmp_path / "other")], rank=2, targets="attention")


def test_bad_sources_and_folders_are_refused(tmp_path, tiny_path):
    method = METHODS["prefix"]
    prefix = method.build(load_tiny(), make_params(method, {"virtual_tokens": 2}))
    method.save(prefix, tmp_path / "prefix")
    with pytest.raises(cora.CoraError, match="changes no weight matrix"):
        cora.extract([str(tmp_path / "prefix")], rank=2)
    with pytest.raises(cora.CoraError, match="does not exist"):
        cora.extract([str(tmp_path / "missing")], rank=2)
    with pytest.raises(cora.CoraError, match="no source"):
        cora.extract([], rank=2)
    with pytest.raises(cora.CoraError, match="not a CoRA subspace"):
        cora.load(tmp_path)
    with pytest.raises(cora.CoraError, match="not in this model"):
        cora.extract(["tiny"], rank=2, targets="c_attn")
    Path(tmp_path / "run" / "adapter").mkdir(parents=True)
    (tmp_path / "run" / "config.json").write_text(json.dumps({"train": {"model": "tiny"}}))
    with pytest.raises(cora.CoraError, match="no finished model"):
        cora.extract([str(tmp_path / "run")], rank=2)
