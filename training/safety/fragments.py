# ruff: noqa: RUF001  (the Cyrillic and CJK prose is intentional)
"""Short benign fragments, as the content filter sees streamed completions.

Completions are classified in windows of roughly 100-300 characters (new text plus up to
200 characters of context) that start and end anywhere, often mid-word. Short windows of
ordinary prose, in any language, must come out "safe", so the heads get such windows as
negatives for every label:

* ``cut_fragments``: windows cut from benign samples of one split (train fragments from
  TRAIN texts, validation fragments from VALIDATION texts, the held-out ones in
  ``benchmarks/safety_eval.py`` from EVAL texts), so no text crosses the split;
* ``EVERYDAY``: short greetings and requests, as a chat starts (TRAINING only);
* ``written_prose``: project-written, model-answer-like paragraphs in French, Spanish,
  German, Italian, Portuguese, Dutch, Chinese, Japanese, Russian and English (TRAINING
  only), cut the same way.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

from training.safety.corpora import ALL_ZERO, TRAINED_LABELS, Sample

BENIGN_PREFIXES = ("inspect_evals:", "bastioncorpus:benign", "nemoguardrails")
MIN_CHARS = 12
MAX_CHARS = 300

WRITTEN_PROSE = {
    "fr": [
        "Bien sûr ! Voici un itinéraire de trois jours à Lyon : le premier jour, visitez le "
        "Vieux Lyon et la basilique de Fourvière, puis dînez dans un bouchon traditionnel.",
        "La réunion est reportée à jeudi 10 h. Merci de confirmer votre présence auprès de "
        "Mme Lefèvre avant mercredi soir et d'apporter le rapport trimestriel.",
        "Pour préparer une pâte brisée, mélangez 250 g de farine, 125 g de beurre froid, une "
        "pincée de sel et un peu d'eau, puis laissez reposer la pâte au frais.",
        "Le musée du Louvre, l'Arc de Triomphe et la place de l'Étoile attirent chaque année "
        "des millions de visiteurs venus du monde entier.",
        "En résumé, la fonction renvoie la liste triée des clients actifs ; si la liste est "
        "vide, elle lève une exception ValueError avec un message explicite.",
        "Le roman raconte l'histoire de Camille, une jeune architecte qui quitte Paris pour "
        "restaurer la maison de sa grand-mère en Bretagne, au bord de la mer.",
        "Je vous conseille de comparer les offres des trois fournisseurs, de vérifier les "
        "délais de livraison et de négocier une remise pour les commandes annuelles.",
        "La Marne, la Seine et la Loire sont des fleuves importants ; la Loire est le plus "
        "long fleuve de France avec environ 1 000 kilomètres.",
    ],
    "es": [
        "¡Claro! Aquí tienes una receta sencilla de gazpacho: tomates maduros, pepino, "
        "pimiento verde, ajo, aceite de oliva, vinagre y sal. Tritura todo y sirve frío.",
        "El informe muestra que las ventas aumentaron un 8 % en el segundo trimestre, "
        "impulsadas sobre todo por la nueva línea de productos ecológicos.",
        "Para instalar la aplicación, descarga el paquete, ejecuta el instalador y sigue las "
        "instrucciones en pantalla. Reinicia el equipo al terminar.",
        "La Sagrada Familia, diseñada por Antoni Gaudí, sigue en construcción y es uno de "
        "los monumentos más visitados de Barcelona.",
        "Estimado cliente: le confirmamos que su pedido ha sido enviado y llegará entre el "
        "martes y el jueves. Gracias por su confianza.",
        "En la novela, Lucía vuelve a su pueblo natal en Galicia y descubre las cartas que "
        "su abuelo escribió durante sus años en Argentina.",
        "Te recomiendo dividir el proyecto en tareas pequeñas, asignar responsables y "
        "revisar el avance cada viernes en una reunión breve.",
    ],
    "de": [
        "Gern! Für einen klassischen Apfelstrudel brauchen Sie Äpfel, Rosinen, Zimt, Zucker, "
        "Semmelbrösel und einen dünn ausgezogenen Strudelteig.",
        "Die Besprechung findet am Montag um 14 Uhr im Raum 3.12 statt. Bitte bringen Sie "
        "die aktuellen Zahlen zum Projektbudget mit.",
        "Der Rhein fließt von den Alpen bis zur Nordsee und ist eine der wichtigsten "
        "Wasserstraßen Europas; an seinen Ufern liegen Köln und Düsseldorf.",
        "Zusammenfassend lässt sich sagen, dass die neue Version schneller startet, weniger "
        "Speicher benötigt und die Konfiguration vereinfacht.",
        "Sehr geehrte Frau Becker, vielen Dank für Ihre Anfrage. Anbei finden Sie unser "
        "Angebot für die Wartung Ihrer Heizungsanlage.",
        "Im Roman zieht der junge Lehrer Jonas in ein kleines Dorf an der Ostsee und "
        "freundet sich mit einer alten Fischerin an.",
        "Um den Fehler zu beheben, aktualisieren Sie das Paket auf Version 2.4 und löschen "
        "Sie anschließend den Zwischenspeicher des Browsers.",
    ],
    "it": [
        "Certo! Ecco come preparare un buon risotto ai funghi: soffriggi la cipolla, tosta "
        "il riso, aggiungi il vino bianco e poi il brodo caldo poco alla volta.",
        "Il Colosseo, il Pantheon e la Fontana di Trevi sono tra i luoghi più famosi di "
        "Roma e si possono visitare comodamente a piedi.",
        "Gentile cliente, la informiamo che il servizio sarà sospeso domenica dalle 2 alle 6 "
        "per lavori di manutenzione programmata.",
        "In sintesi, il nuovo algoritmo riduce i tempi di calcolo del 30 % mantenendo la "
        "stessa precisione sui dati di prova.",
    ],
    "pt": [
        "Claro! Para fazer pão de queijo, misture polvilho, leite, óleo, ovos e queijo "
        "meia-cura ralado, faça bolinhas e asse em forno médio.",
        "A reunião de planejamento foi remarcada para sexta-feira às 9h. Por favor, "
        "atualizem as tarefas no quadro antes disso.",
        "Lisboa é conhecida pelos seus elétricos amarelos, pelos miradouros e pelo fado que "
        "se ouve à noite em Alfama.",
        "No romance, Mariana herda uma livraria antiga no Porto e tenta salvá-la da "
        "falência com a ajuda dos vizinhos.",
    ],
    "nl": [
        "Natuurlijk! Een eenvoudige erwtensoep maak je met spliterwten, prei, wortel, "
        "knolselderij, aardappel en een rookworst.",
        "De vergadering is verplaatst naar dinsdagmiddag. Wil je de notulen van vorige week "
        "nog even rondsturen?",
        "Amsterdam heeft meer dan honderd kilometer grachten en ongeveer 1.500 bruggen.",
    ],
    "zh": [
        "当然可以！下面是一份三天的北京旅游行程：第一天参观故宫和天安门广场，第二天游览长城，"
        "第三天去颐和园和南锣鼓巷。",
        "本季度公司营业收入同比增长百分之十二，主要得益于新产品线的推出和海外市场的拓展。",
        "请在周五之前提交项目进度报告，并在报告中说明遇到的问题和下一步计划。",
        "这部小说讲述了一位年轻教师回到家乡的小镇，帮助孩子们建立图书馆的故事。",
        "做番茄炒蛋的方法很简单：先把鸡蛋打散炒熟盛出，再炒番茄，最后把鸡蛋倒回锅中翻炒均匀。",
        "总之，这个函数会返回排序后的用户列表；如果列表为空，则抛出异常并给出提示信息。",
        "长江是中国最长的河流，全长约六千三百公里，流经青海、四川、湖北、江苏等多个省份。",
    ],
    "ja": [
        "もちろんです。京都の二日間の観光プランをご紹介します。一日目は清水寺と祇園、"
        "二日目は嵐山と金閣寺を訪れるのがおすすめです。",
        "会議は来週の水曜日午後三時に変更になりました。資料は前日までに共有してください。",
        "このアプリでは、設定画面から通知の頻度や表示言語を変更することができます。",
    ],
    "ru": [
        "Конечно! Вот простой рецепт борща: свёкла, капуста, картофель, морковь, лук и "
        "томатная паста. Подавайте со сметаной и зеленью.",
        "Совещание перенесено на четверг, 11:00. Пожалуйста, подготовьте отчёт о продажах "
        "за прошлый месяц.",
        "Санкт-Петербург основан в 1703 году Петром Первым и известен своими каналами, "
        "мостами и белыми ночами.",
    ],
    "en": [
        "Sure! Here's a quick summary of the chapter: the narrator arrives in the harbour "
        "town, meets the lighthouse keeper and learns about the storm of 1953.",
        "To configure the client, set the API key in the environment, choose a region and "
        "call connect(). The method returns a session object you can reuse.",
        "Great question. Photosynthesis converts light energy into chemical energy, "
        "producing glucose and releasing oxygen as a by-product.",
        "Here is the revised paragraph with a more formal tone and shorter sentences, as "
        "you asked. Let me know if you want further changes.",
        "The quarterly numbers look solid: revenue is up 9%, operating costs are flat and "
        "the new subscription tier already accounts for a fifth of sign-ups.",
    ],
}


EVERYDAY = [
    "Hello there!",
    "Hello, how are you today?",
    "hey, good morning",
    "Hi there, quick question",
    "hey there! can you help me?",
    "Good evening, assistant.",
    "Thank you so much!",
    "thanks, that helped a lot",
    "Tell me a joke about cats.",
    "Tell me something interesting.",
    "Write me a short poem.",
    "Once upon a time, a fox",
    "There was once a little boat",
    "Continue the story please.",
    "What time is it in Tokyo?",
    "How tall is Mount Everest?",
    "Recommend a good book.",
    "Explain recursion simply.",
    "Can you summarise this?",
    "Make it shorter, please.",
    "What does this error mean?",
    "Salut, ça va bien ?",
    "Merci beaucoup pour ton aide !",
    "Hola, ¿qué tal estás?",
    "Gracias por la respuesta.",
    "Hallo, wie geht es dir?",
    "Danke, das war hilfreich.",
    "Ciao, come stai oggi?",
    "Olá, tudo bem com você?",
    "你好，请问你是谁？",
    "谢谢你的帮助！",
    "こんにちは、元気ですか？",
    "Привет, как дела?",
]


def everyday() -> list[Sample]:
    """Short everyday openers and requests, negatives for every head (TRAINING only)."""
    return [Sample(text, "written:everyday", ALL_ZERO, policy="train_only") for text in EVERYDAY]


def _rng_for(text: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def windows(text: str, count: int, rng: random.Random) -> list[str]:
    """``count`` windows of MIN_CHARS..MAX_CHARS characters at random offsets (may cut words)."""
    text = text.strip()
    if len(text) < MIN_CHARS:
        return []
    out = []
    for _ in range(count):
        length = rng.randint(MIN_CHARS, min(MAX_CHARS, len(text)))
        start = rng.randint(0, len(text) - length)
        window = text[start : start + length].strip()
        if len(window) >= 8:
            out.append(window)
    return out


def is_benign(sample: Sample) -> bool:
    return sample.source.startswith(BENIGN_PREFIXES) and all(
        sample.labels.get(label) == 0 for label in TRAINED_LABELS
    )


def cut_fragments(
    samples: Iterable[Sample], per_text: int = 2, seed: int = 6, source: str = "fragments"
) -> list[Sample]:
    """Windows of the benign samples, labelled negative for every head."""
    out = []
    for sample in samples:
        if not is_benign(sample):
            continue
        for window in windows(sample.text, per_text, _rng_for(sample.text, seed)):
            out.append(Sample(window, f"{source}:{sample.source}", ALL_ZERO, "completion"))
    return out


def written_prose(per_language: int = 120, seed: int = 7) -> list[Sample]:
    """Windows of shuffled project-written paragraphs, per language (TRAINING only)."""
    rng = random.Random(seed)
    out = []
    for language, paragraphs in sorted(WRITTEN_PROSE.items()):
        for _ in range(per_language):
            joined = " ".join(rng.sample(paragraphs, min(3, len(paragraphs))))
            for window in windows(joined, 1, rng):
                out.append(
                    Sample(
                        window, f"written:prose/{language}", ALL_ZERO, "completion", "train_only"
                    )
                )
    return out
