import time, numpy as np, warnings; warnings.filterwarnings("ignore")
import sklearn, profanity_check
from profanity_check import predict, predict_prob
print("sklearn", sklearn.__version__, "profanity_check from", profanity_check.__file__)
print(predict_prob(["have a nice day", "you are a fucking idiot", "this is shit"]))
txt = ("Please review the attached quarterly report and summarise the key risks for the board. " * 30)[:2000]
ts=[]
for _ in range(50):
    a=time.perf_counter(); predict_prob([txt]); ts.append((time.perf_counter()-a)*1000)
print(f"profanity p50={np.percentile(ts,50):.2f}ms p95={np.percentile(ts,95):.2f}ms")

# presidio without spaCy model: AnalyzerEngine + stub NlpEngine
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngine, NlpArtifacts
from presidio_analyzer.predefined_recognizers import (EmailRecognizer, PhoneRecognizer, CreditCardRecognizer, IbanRecognizer,
    IpRecognizer, UsSsnRecognizer, UrlRecognizer)
class StubNlp(NlpEngine):
    def load(self): pass
    def is_loaded(self): return True
    def process_text(self, text, language): return NlpArtifacts(entities=[], tokens=[], tokens_indices=[], lemmas=[], nlp_engine=self, language=language)
    def process_batch(self, texts, language, **kw):
        for t in texts: yield t, self.process_text(t, language)
    def is_stopword(self, word, language): return False
    def is_punct(self, word, language): return False
    def get_supported_entities(self): return []
    def get_supported_languages(self): return ["en"]
reg = RecognizerRegistry(supported_languages=["en"])
for R in (EmailRecognizer, PhoneRecognizer, CreditCardRecognizer, IbanRecognizer, IpRecognizer, UsSsnRecognizer, UrlRecognizer):
    reg.add_recognizer(R())
an = AnalyzerEngine(registry=reg, nlp_engine=StubNlp(), supported_languages=["en"])
s = "Contact john.doe@example.com or +1 415-555-0132. Card 4111 1111 1111 1111, bad card 4111 1111 1111 1112, IBAN DE89 3704 0044 0532 0130 00, IP 192.168.10.7, SSN 078-05-1120."
for r in an.analyze(s, language="en"): print("  ", r.entity_type, repr(s[r.start:r.end]), round(r.score,2))
big = (txt[:1700] + " " + s)[:2000]
ts=[]
for _ in range(50):
    a=time.perf_counter(); an.analyze(big, language="en"); ts.append((time.perf_counter()-a)*1000)
print(f"presidio(stub nlp, 7 recognizers) 2000 chars p50={np.percentile(ts,50):.2f}ms p95={np.percentile(ts,95):.2f}ms")
try:
    AnalyzerEngine()
    print("default AnalyzerEngine() worked")
except BaseException as e:
    print("default AnalyzerEngine() fails offline:", type(e).__name__, str(e)[:150])
