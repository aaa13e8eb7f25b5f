"""The planted near-duplicate set of bench/diversity.py, built deterministically from shipped text: distinct base
texts, 15 % planted near-duplicates placed after their original (two perturbations each; numbers kept as digits,
reformatted or written in words, a third each), and 10 % GSM8K questions whose numbers were all changed (different
problems, which a filter must keep)."""

from __future__ import annotations

import html
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import synthfoundry

SEEDS = Path(synthfoundry.__file__).parent / "seeds"
PLANTED, CHANGED = 0.15, 0.10
SYNONYMS = {
    "buy": "purchase", "bought": "purchased", "big": "large", "small": "little", "fast": "quick", "start": "begin",
    "started": "began", "gets": "receives", "get": "receive", "total": "sum", "each": "every", "makes": "earns",
    "wants": "would like", "needs": "requires", "house": "home", "store": "shop", "car": "vehicle",
    "money": "cash", "friends": "pals", "kids": "children", "children": "kids", "job": "work", "help": "assist",
    "show": "display", "give": "provide", "uses": "utilizes", "use": "utilize", "picks": "selects",
    "many": "numerous", "write": "compose", "list": "enumerate", "explain": "describe", "find": "determine",
    "create": "make", "answer": "response", "people": "persons", "spent": "used", "spends": "uses",
    "days": "days'", "hours": "hrs", "minutes": "mins", "dollars": "bucks", "each week": "weekly",
    "tell": "say", "about": "regarding", "also": "too", "has": "owns", "have": "own", "sold": "sold off",
}


@dataclass(frozen=True)
class Row:
    text: str
    kind: str  # base | planted (must be dropped) | changed (numbers changed: must be kept)
    spelling: str = ""  # planted and changed rows: how their numbers are written (SPELLINGS), or "no numbers"


SPELLINGS = ("digits", "formats", "words")


def base_texts() -> list[str]:
    """Distinct shipped texts, deduplicated after lower-casing and stripping non-alphanumerics."""
    gsm8k = [json.loads(line) for line in (SEEDS / "gsm8k" / "train.jsonl").open()]
    texts = [row["question"] for row in gsm8k]
    for row in gsm8k:
        for line in row["answer"].splitlines():
            line = re.sub(r"<<[^>]*>>", "", line).strip()
            if not line.startswith("####") and len(line.split()) >= 6:
                texts.append(line)
    for line in (SEEDS / "self_instruct" / "seed_tasks.jsonl").open():
        task = json.loads(line)
        texts.append(task["instruction"])
        texts += [part for instance in task["instances"] for part in instance.values() if len(part.split()) >= 6]
    for path in sorted((SEEDS / "documents").iterdir()):
        raw = html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(errors="ignore")))
        texts += [s for s in re.split(r"(?<=[.!?])\s+", " ".join(raw.split())) if len(s.split()) >= 6]
    from pydoc_data.topics import topics

    for topic in sorted(topics):
        for paragraph in re.split(r"\n\s*\n", topics[topic]):
            paragraph = " ".join(paragraph.split())
            if 8 <= len(paragraph.split()) <= 120 and not re.search(r"[{}=<>]|\.\.\.|\w\(", paragraph):
                texts.append(paragraph)
    import reasoning_gym

    problems = set()  # one instance per template and numbers: renaming the people does not make a new problem
    for item in reasoning_gym.create_dataset("gsm_symbolic", size=60_000, seed=7):
        numbers = tuple(sorted(re.findall(r"[0-9]+(?:[.,][0-9]+)*", item["question"])))
        problem = (tuple(sorted(item["metadata"]["variables"])), numbers)
        if problem not in problems:
            problems.add(problem)
            texts.append(item["question"])
    seen: set[str] = set()
    out = []
    for text in texts:
        key = re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            out.append(text)
    return out


NUMBER_WORD = re.compile(  # dropping these changes the problem, not its wording
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|dozen|half|halves|thirds?|quarters?|fourths?|"
    r"fifths?|twice|times)\b", re.IGNORECASE,
)


def _drop_words(text: str, rng: random.Random) -> str | None:
    words = text.split()
    droppable = [i for i, w in enumerate(words) if not re.search(r"\d", w) and not NUMBER_WORD.search(w)]
    if len(words) < 8 or len(droppable) < 2:
        return None
    for i in sorted(rng.sample(droppable, rng.randint(1, 2)), reverse=True):
        del words[i]
    return " ".join(words)


def _synonyms(text: str, rng: random.Random) -> str | None:
    hits = [word for word in SYNONYMS if re.search(rf"\b{word}\b", text)]
    if not hits:
        return None
    for word in rng.sample(hits, min(2, len(hits))):
        text = re.sub(rf"\b{word}\b", SYNONYMS[word], text, count=1)
    return text


def _punctuation_case(text: str, rng: random.Random) -> str | None:
    return re.sub(r"[,;:!?]", "", text).lower() if rng.random() < 0.5 else text.upper()


def _swap_sentences(text: str, rng: random.Random) -> str | None:
    sentences = re.split(r"(?<=[.!?])\s+", text)
    if len(sentences) < 2:
        return None
    i = rng.randrange(len(sentences) - 1)
    sentences[i], sentences[i + 1] = sentences[i + 1], sentences[i]
    return " ".join(sentences)


def _number_formats(text: str, rng: random.Random) -> str | None:
    def reformat(match: re.Match) -> str:
        number = match.group(0)
        if len(number) >= 4:
            return f"{int(number):,}"
        return number + ".00" if match.start() > 0 and text[match.start() - 1] == "$" else number + ".0"

    changed = re.sub(r"(?<![\d.,])\d+(?![\d.,])", reformat, text)
    return changed if changed != text else None


_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_PARTS = {2: ("half", "halves"), 3: ("third", "thirds"), 4: ("quarter", "quarters"), 5: ("fifth", "fifths")}


def in_words(number: int, rng: random.Random) -> str:
    """An integer below a million in English words, "and" after hundreds or not, as people write them."""
    if number < 20:
        return _UNITS[number]
    if number < 100:
        return _TENS[number // 10] + ("-" + _UNITS[number % 10] if number % 10 else "")
    if number < 1000:
        rest = number % 100
        joint = " and " if rng.random() < 0.5 else " "
        return _UNITS[number // 100] + " hundred" + (joint + in_words(rest, rng) if rest else "")
    rest = number % 1000
    return in_words(number // 1000, rng) + " thousand" + (" " + in_words(rest, rng) if rest else "")


def _number_words(text: str, rng: random.Random) -> str | None:
    """Numbers written in words: integers, and fractions of halves to fifths ("3/4" -> "three quarters")."""
    def fraction(match: re.Match) -> str:
        top, bottom = int(match.group(1)), int(match.group(2))
        return ("a" if top == 1 else in_words(top, rng)) + " " + _PARTS[bottom][top > 1]

    text = re.sub(r"(?<![\d.,/])([1-9])/([2-5])(?![\d.,/])", fraction, text)
    changed = re.sub(r"(?<![\d.,/])\d{1,6}(?![\d.,/]|\.\d)", lambda m: in_words(int(m.group(0)), rng), text)
    return changed


SPELL = {"digits": lambda text, rng: text, "formats": _number_formats, "words": _number_words}
PERTURBATIONS = (_drop_words, _synonyms, _punctuation_case, _swap_sentences)


def perturb(text: str, rng: random.Random) -> tuple[str, str]:
    """Two meaning-keeping edits, drawn from those the text allows, and its numbers spelled one of three ways:
    (the copy, how its numbers are spelled)."""
    out, edits = text, 0
    for edit in rng.sample(PERTURBATIONS, len(PERTURBATIONS)):
        changed = edit(out, rng)
        if changed and changed != out:
            out, edits = changed, edits + 1
            if edits == 2:
                break
    if not re.search(r"\d", out):
        return out, "no numbers"
    spelling = rng.choice(SPELLINGS)
    return SPELL[spelling](out, rng) or out, spelling


def change_numbers(text: str, rng: random.Random) -> tuple[str, str]:
    """Every number raised by 1-9 (the multiset of numbers cannot stay the same), then written in words half the
    time: (the variant, its spelling)."""
    changed = re.sub(r"\d+", lambda m: str(int(m.group(0)) + rng.randint(1, 9)), text)
    return (_number_words(changed, rng), "words") if rng.random() < 0.5 else (changed, "digits")


def planted_set(size: int, seed: int = 0) -> list[Row]:
    """`size` rows in a fixed order: every planted copy and changed variant comes after its original."""
    rng = random.Random(seed)
    pool = base_texts()
    questions = {json.loads(line)["question"] for line in (SEEDS / "gsm8k" / "train.jsonl").open()}
    numbered = [text for text in pool if text in questions and re.search(r"\d", text)]
    n_changed = min(int(size * CHANGED), len(numbered))
    n_base = min(size - int(size * PLANTED) - n_changed, len(pool))  # past the pool, more rows are planted
    n_planted = size - n_changed - n_base
    originals = rng.sample(numbered, n_changed)  # in the base set, like every original
    chosen = set(originals)
    base = originals + rng.sample([text for text in pool if text not in chosen], n_base - n_changed)
    position = {text: rng.random() for text in base}
    keyed = [(position[text], Row(text, "base")) for text in base]
    for text in rng.sample(base, n_planted):
        copy, spelling = perturb(text, rng)
        keyed.append((rng.uniform(position[text], 1.0), Row(copy, "planted", spelling)))
    for text in originals:
        variant, spelling = change_numbers(text, rng)
        keyed.append((rng.uniform(position[text], 1.0), Row(variant, "changed", spelling)))
    keyed.sort(key=lambda pair: pair[0])
    return [row for _, row in keyed]
