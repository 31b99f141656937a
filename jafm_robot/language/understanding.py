"""Instruction understanding: any reasonable Japanese/English phrasing -> a grounded goal, or a refusal.

The shipped policies learned a handful of templates per task and language (:mod:`.templates`) and
act on whatever text they get. This front end sits before them: :func:`understand` parses the
user's words into a :class:`Understanding` (task, part, bin, base) or refuses with a reason, and
:func:`canonical` renders an understood goal back into the template the network was trained on.
So the network always sees language it learned, and text it cannot ground never reaches the arm.

How a sentence is read (deterministic; no learned model):

1. **Normalise**: NFKC (full-width letters and half-width katakana fold), lower case, arrows
   (``->``, ``→``, ``>``) to one marker, punctuation to spaces, spaces collapsed.
2. **Script**: Hangul, Cyrillic, accented Latin or other scripts are another language. Han
   characters without any kana are Chinese unless the Japanese lexicon covers every one of them
   (Japanese shorthand like ``赤円柱→青箱``) and none is a Chinese-only character (把, 红, 进 ...).
   Latin text dominated by French/German/Spanish/Italian function words is another language.
3. **Tokens**: English words are looked up whole (multi-word entries first, then a plural ``s``,
   then one edit -- insertion, deletion, substitution or swap -- for words of >= 5 letters);
   Japanese runs longest-match against the lexicon, unknown characters kept as unknown tokens.
4. **Refusals before parsing**: a word of a task the policies do not serve (weld, 溶接); a colour
   or shape outside the vocabulary (pink, ボール).
5. **Noun phrases**: a colour (+ の / coloured) + a noun (shape, bin, box, part). Each phrase gets a
   role from the English preposition before it (in/into/to -> destination, on/onto/above -> on,
   under -> it is the top, from/off -> source) or the Japanese particle after it (を object,
   は topic, に/へ/の中に destination, の上に on, の下に under, から source), or an arrow.
6. **Goal**: one part and a bin -> PickPlace (ConveyorPick with a conveyor word); two parts, one of
   them the destination -> Stack (the other is the top); one part as an "on"/"to" target, or with a
   reach word, and no bin -> Reach; no part and a sorting word -> Sort. Anything else (two parts
   and no role, a bin without a colour, a colour without a shape and no scene to settle it) is
   refused as ambiguous or incomplete, never guessed.
7. **Grounding**: with ``scene_parts`` every named part must be on the table; the task must be one
   the policy serves (``tasks``).

**Confidence** (documented, not a constant): 1.0, minus 0.05 per typo corrected, 0.05 per box/箱
read as a part, 0.1 per part whose shape or colour came from the scene, 0.05 when no word named
the task (structure only), 0.1 when ``default_task`` decided it, 0.05 for mixed-language text, and
0.4 x the share of words (Japanese: characters) the lexicon does not know; clipped to [0.05, 1].
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from jafm_robot.contract import TASKS
from jafm_robot.language import vocabulary as V
from jafm_robot.language.goal import Goal, Part, slot_phrases
from jafm_robot.language.templates import TEMPLATES, part_phrase

__all__ = ["Understanding", "canonical", "correct_typo", "normalize", "understand"]

#: refusal codes (``Understanding.code``): the classes of ``tests/data/refusals.tsv`` plus the
#: structural ones
REFUSAL_CODES = ("empty", "other_language", "gibberish", "unserved_task", "unknown_vocabulary",
                 "absent_part", "ambiguous", "incomplete")

ARROW = "→"


@dataclass
class Understanding:
    """The result of :func:`understand`: a grounded goal, or a refusal with its reason.

    ``part`` is the part to move/reach, or the *top* of a Stack; ``base`` the part a Stack goes onto;
    ``bin`` the destination bin's colour. ``code`` is one of :data:`REFUSAL_CODES` on refusal.
    ``notes`` lists what was corrected or inferred (typos, defaults), for logs.
    """

    understood: bool
    task: str | None = None
    part: Part | None = None
    bin: str | None = None
    base: Part | None = None
    confidence: float = 0.0
    reason: str | None = None
    code: str | None = None
    language: str = "en"
    notes: list[str] = field(default_factory=list)

    @property
    def goal(self) -> Goal | None:
        """The understood goal as a :class:`Goal` (``None`` on refusal)."""
        if not self.understood or self.task is None:
            return None
        return Goal(self.task, self.part, self.bin, self.base)

    def to_dict(self) -> dict:
        """JSON-ready: the goal and confidence when understood; ``understood: false``, the reason,
        its ``code`` and the language otherwise."""
        if not self.understood:
            return {"understood": False, "reason": self.reason, "code": self.code, "language": self.language}
        return {
            "understood": True,
            "task": self.task,
            "part": self.part.to_dict() if self.part else None,
            "bin": self.bin,
            "base": self.base.to_dict() if self.base else None,
            "confidence": round(self.confidence, 3),
            "language": self.language,
        }


def _refuse(code: str, reason: str, language: str) -> Understanding:
    return Understanding(False, reason=reason, code=code, language=language)


# -------------------------------------------------------------------------------- normalisation
_ARROW_RE = re.compile("|".join(re.escape(a) for a in sorted(V.ARROWS, key=len, reverse=True)))


def normalize(text: str) -> str:
    """NFKC, lower case, arrows to ``→``, punctuation and symbols to spaces, spaces collapsed."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = _ARROW_RE.sub(f" {ARROW} ", t)
    t = t.replace("'", "").replace("’", "")
    out = []
    for ch in t:
        cat = unicodedata.category(ch)
        if ch == ARROW or ch == "ー" or ch == "々":
            out.append(ch)
        elif cat[0] in "PSZC":
            out.append(" ")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _is_kana(ch: str) -> bool:
    o = ord(ch)
    return 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or ch == "々"


def _other_script(ch: str) -> str | None:
    o = ord(ch)
    for lo, hi, name in ((0xAC00, 0xD7AF, "Korean"), (0x1100, 0x11FF, "Korean"), (0x3130, 0x318F, "Korean"),
                         (0x0400, 0x04FF, "Cyrillic"), (0x0370, 0x03FF, "Greek"), (0x0590, 0x05FF, "Hebrew"),
                         (0x0600, 0x06FF, "Arabic"), (0x0E00, 0x0E7F, "Thai"), (0x0900, 0x097F, "Devanagari")):
        if lo <= o <= hi:
            return name
    if ch.isalpha() and 0x00C0 <= o <= 0x024F:
        return "accented Latin"
    return None


# -------------------------------------------------------------------------------------- tokens
@dataclass
class Token:
    kind: str  # COLOR SHAPE BIN CONTAINER GENERIC EFFECTOR PREP PARTICLE ARROW CUE UNSERVED OOV_COLOR
    #           OOV_SHAPE FILLER UNKNOWN CONNECT (Japanese の between colour and noun)
    value: str
    surface: str
    lang: str
    typo: bool = False


_KIND_ORDER = ("UNSERVED", "OOV_COLOR", "OOV_SHAPE", "COLOR", "SHAPE", "CONTAINER", "BIN", "GENERIC",
               "EFFECTOR", "PREP", "PARTICLE", "CUE", "FILLER")


@cache
def _lexicon(lang: str) -> dict[str, tuple[str, str]]:
    """surface -> (kind, value); on a clash the earlier kind of ``_KIND_ORDER`` wins."""
    entries: dict[str, list[tuple[str, str]]] = {
        "UNSERVED": [(w, w) for w in V.UNSERVED[lang]],
        "OOV_COLOR": [(w, w) for w in V.OOV_COLORS[lang]],
        "OOV_SHAPE": [(w, w) for w in V.OOV_SHAPES[lang]],
        "COLOR": list(V.COLORS[lang].items()),
        "SHAPE": list(V.SHAPES[lang].items()),
        "CONTAINER": [(w, "box") for w in V.CONTAINERS[lang]],
        "BIN": [(w, "bin") for w in V.BINS[lang]],
        "GENERIC": [(w, "part") for w in V.GENERIC_PARTS[lang]],
        "EFFECTOR": [(w, "effector") for w in V.EFFECTORS[lang]],
        "PREP": list(V.EN_PREPOSITIONS.items()) if lang == "en" else [],
        "PARTICLE": list(V.JA_PARTICLES.items()) if lang == "ja" else [],
        "CUE": [(w, task) for task, by_lang in V.TASK_CUES.items() for w in by_lang[lang]],
        "FILLER": [(w, w) for w in (V.EN_FILLER if lang == "en" else V.JA_FILLER)],
    }
    lex: dict[str, tuple[str, str]] = {}
    for kind in reversed(_KIND_ORDER):
        for surface, value in entries[kind]:
            lex[surface] = (kind, value)
    return lex


@cache
def _en_fuzzy_targets() -> dict[str, tuple[str, str]]:
    """Single English content words a typo may be corrected to (>= 4 letters; not filler)."""
    return {w: kv for w, kv in _lexicon("en").items() if " " not in w and len(w) >= 4
            and kv[0] not in ("FILLER", "PREP", "UNSERVED", "OOV_COLOR", "OOV_SHAPE")}  # never refuses


def _edit1(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by exactly one insertion, deletion, substitution or swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if len(a) > len(b):
        a, b = b, a
    for i in range(len(b)):
        if b[:i] + b[i + 1:] == a:
            return True
    return False


def _correct(word: str) -> tuple[str, str, str] | None:
    """The one content word ``word`` is a typo of, as (surface, kind, value), or None."""
    if len(word) < 5 or not word.isalpha():
        return None
    hits = {w: kv for w, kv in _en_fuzzy_targets().items() if _edit1(word, w)}
    meanings = set(hits.values())
    if len(meanings) != 1:
        return None
    surface = min(hits)
    kind, value = hits[surface]
    return surface, kind, value


def correct_typo(word: str) -> tuple[str, str] | None:
    """What an English word means to the parser, as (kind, value): exact (or plural) lexicon
    entry first, else its one-edit correction; None when neither."""
    lex = _lexicon("en")
    w = word.lower()
    if w in lex:
        return lex[w]
    fixed = None if w in V.FOREIGN_WORDS else _correct(w)
    return (fixed[1], fixed[2]) if fixed else None


def _tokenize_en(words: Sequence[str]) -> list[Token]:
    lex = _lexicon("en")
    out: list[Token] = []
    i = 0
    while i < len(words):
        for n in (4, 3, 2, 1):
            phrase = " ".join(words[i:i + n])
            if len(words) - i >= n and phrase in lex:
                kind, value = lex[phrase]
                out.append(Token(kind, value, phrase, "en"))
                i += n
                break
        else:
            w = words[i]
            i += 1
            for stem in (w[:-1] if w.endswith("s") else None, w[:-2] if w.endswith("es") else None):
                if stem and stem in lex and lex[stem][0] not in ("FILLER", "PREP"):
                    kind, value = lex[stem]
                    out.append(Token(kind, value, stem, "en"))
                    break
            else:
                fixed = None if w in V.FOREIGN_WORDS else _correct(w)
                if fixed:
                    out.append(Token(fixed[1], fixed[2], w, "en", typo=True))
                else:
                    out.append(Token("UNKNOWN", w, w, "en"))
    # words that are a shape only right after a colour ("can you ...", "screw it in")
    for k, t in enumerate(out):
        if t.kind == "SHAPE" and t.surface in V.SHAPES_NEED_COLOR:
            j = k - 1
            while j >= 0 and out[j].kind == "FILLER" and out[j].surface in _EN_ADJ_FILLER:
                j -= 1  # "black-coloured bar", "red small can"
            after_color = j >= 0 and out[j].kind == "COLOR"
            if not after_color:
                out[k] = Token("UNSERVED" if t.surface.startswith("screw") else "FILLER", t.surface, t.surface, "en")
    return out


@cache
def _ja_max_len() -> int:
    return max(len(s) for s in _lexicon("ja"))


def _tokenize_ja(run: str) -> list[Token]:
    lex = _lexicon("ja")
    out: list[Token] = []
    i, n = 0, len(run)
    longest = _ja_max_len()
    while i < n:
        for m in range(min(longest, n - i), 0, -1):
            s = run[i:i + m]
            if s in lex:
                kind, value = lex[s]
                out.append(Token(kind, value, s, "ja"))
                i += m
                break
        else:
            if out and out[-1].kind == "UNKNOWN" and out[-1].lang == "ja":
                out[-1].surface += run[i]
                out[-1].value += run[i]
            else:
                out.append(Token("UNKNOWN", run[i], run[i], "ja"))
            i += 1
    return out


_RUN_RE = re.compile(r"[a-z0-9][a-z0-9 ]*[a-z0-9]|[a-z0-9]|→|[^a-z0-9→ ]+")


def tokenize(norm: str) -> list[Token]:
    """Tokens of normalised text: ASCII runs as English words, other runs by Japanese longest match."""
    out: list[Token] = []
    for m in _RUN_RE.finditer(norm):
        run = m.group(0)
        if run == ARROW:
            out.append(Token("ARROW", "dest", run, "en"))
        elif run[0].isascii():
            out.extend(_tokenize_en(run.split()))
        else:
            out.extend(_tokenize_ja(run))
    return out


# --------------------------------------------------------------------------------- noun phrases
@dataclass
class NounPhrase:
    color: str | None
    kind: str  # SHAPE BIN CONTAINER GENERIC EFFECTOR UNKNOWN (no noun: GENERIC)
    shape: str | None
    surface: str
    role: str | None = None  # obj topic dest on under src and (None: no marker)
    start: int = 0


_EN_ADJ_FILLER = frozenset({"coloured", "colored", "colour", "color", "small", "little", "big", "large", "tiny",
                            "rectangular", "round", "square", "metal", "metallic", "plastic", "wooden"})
_NOUN_KINDS = ("SHAPE", "BIN", "CONTAINER", "GENERIC", "EFFECTOR")


def noun_phrases(tokens: list[Token]) -> list[NounPhrase]:
    """Colour + noun phrases (and bare nouns), each with its role marker."""
    nps: list[NounPhrase] = []
    pending: str | None = None  # an English preposition / arrow waiting for its phrase
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.kind in ("PREP", "ARROW"):
            pending = t.value
            i += 1
            continue
        if t.kind in ("CUE", "UNSERVED"):
            pending = None
            i += 1
            continue
        np_: NounPhrase | None = None
        start = i
        if t.kind == "COLOR":
            j = i + 1
            while j < len(tokens) and (
                (tokens[j].kind == "FILLER" and tokens[j].surface in _EN_ADJ_FILLER | {"の", "色"})
                or (tokens[j].kind == "COLOR" and tokens[j].value == t.value)  # 赤色 + の, "red red"
            ):
                j += 1
            nxt = tokens[j] if j < len(tokens) else None
            if nxt is not None and nxt.kind in _NOUN_KINDS:
                np_ = NounPhrase(t.value, nxt.kind, nxt.value if nxt.kind == "SHAPE" else None,
                                 f"{t.surface} {nxt.surface}")
                i = j + 1
            elif nxt is not None and nxt.kind == "UNKNOWN" and not _is_inflection(nxt.surface):
                np_ = NounPhrase(t.value, "UNKNOWN", None, f"{t.surface} {nxt.surface}")
                i = j + 1
            else:
                np_ = NounPhrase(t.value, "GENERIC", None, t.surface)
                i = j
        elif t.kind in ("SHAPE", "BIN", "CONTAINER", "EFFECTOR"):
            np_ = NounPhrase(None, t.kind, t.value if t.kind == "SHAPE" else None, t.surface)
            i += 1
        else:
            i += 1
            continue
        np_.start = start
        # 箱型の部品, 円柱のパーツ, "cube piece": the generic noun after a shape is the same phrase
        if np_.kind == "SHAPE" and i < len(tokens):
            if tokens[i].kind == "GENERIC":
                i += 1
            elif tokens[i].surface == "の" and i + 1 < len(tokens) and tokens[i + 1].kind == "GENERIC":
                i += 2
        # the Japanese particle after it wins over an English preposition before it
        nxt = tokens[i] if i < len(tokens) else None
        if nxt is not None and nxt.kind == "PARTICLE":
            np_.role = nxt.value
            i += 1
        elif nxt is not None and nxt.kind == "ARROW":
            np_.role = pending or "obj"
        else:
            np_.role = pending
        pending = None
        nps.append(np_)
    return nps


def _is_inflection(surface: str) -> bool:
    """Hiragana-only leftovers are verb endings and the like, not an unknown noun."""
    return all(0x3040 <= ord(c) <= 0x309F for c in surface)


# ------------------------------------------------------------------------------- language checks
def _language_of(tokens: list[Token], norm: str) -> str:
    has_ja = any(_is_kana(c) or _is_han(c) for c in norm)
    if not has_ja:
        return "en"
    en_content = any(t.lang == "en" and t.kind not in ("UNKNOWN", "ARROW") for t in tokens)
    return "mixed" if en_content else "ja"


def _other_language(norm: str, tokens: list[Token]) -> str | None:
    """A reason when the text is in a language other than Japanese or English, else None."""
    scripts = {s for s in map(_other_script, norm) if s}
    if scripts - {"accented Latin"}:
        name = sorted(scripts - {"accented Latin"})[0]
        return f"the instruction is written in {'Korean' if name == 'Korean' else name + ' script'}; " \
               "this robot understands Japanese and English"
    han = [c for c in norm if _is_han(c)]
    kana = any(_is_kana(c) for c in norm)
    if han and not kana:
        chinese = [c for c in han if c in V.CHINESE_ONLY]
        unknown_han = any(t.kind == "UNKNOWN" and any(_is_han(c) for c in t.surface) for t in tokens)
        if chinese or unknown_han:
            return "the instruction looks like Chinese (Han characters without kana); " \
                   "this robot understands Japanese and English"
    words = [t.surface for t in tokens if t.lang == "en" and t.kind != "ARROW"]
    foreign = [w for w in words if w in V.FOREIGN_WORDS and w not in _lexicon("en")]
    known = [t for t in tokens if t.lang == "en" and t.kind not in ("UNKNOWN", "ARROW")]
    if "accented Latin" in scripts and len(known) <= len(words) // 2:
        return "the instruction looks like a European language other than English; " \
               "this robot understands Japanese and English"
    if len(foreign) >= 2 and len(foreign) >= len(known):
        return "the instruction looks like a European language other than English " \
               f"({', '.join(foreign[:3])}); this robot understands Japanese and English"
    return None


# ---------------------------------------------------------------------------------- understand
def _unknown_share(tokens: list[Token]) -> float:
    """Share of the text the lexicon does not know (English: words; Japanese: non-hiragana chars)."""
    total = unknown = 0
    for t in tokens:
        if t.kind == "ARROW":
            continue
        if t.lang == "en":
            total += 1
            unknown += t.kind == "UNKNOWN"
        else:
            chars = len(t.surface)
            total += chars
            if t.kind == "UNKNOWN" and not _is_inflection(t.surface):
                unknown += chars
    return unknown / total if total else 1.0


def _describe(p: Part, lang: str) -> str:
    return part_phrase(p.color, p.shape, "ja" if lang == "ja" else "en")


def _resolve(np_: NounPhrase, scene: list[Part] | None, lang: str) -> tuple[Part | None, str | None, float]:
    """A part noun phrase -> (part, refusal reason, confidence penalty); the scene fills a missing
    shape or colour when exactly one part on the table fits."""
    shape = np_.shape if np_.kind == "SHAPE" else ("cube" if np_.kind == "CONTAINER" else None)
    if np_.color and shape:
        return Part(np_.color, shape), None, 0.0
    if scene is not None:
        fits = [p for p in scene if (np_.color is None or p.color == np_.color) and (shape is None or p.shape == shape)]
        if len(set(fits)) == 1:
            return fits[0], None, 0.1
        if not fits:
            return None, f"there is no {np_.surface} on the table", 0.0
    missing = "shape" if np_.color else "colour"
    return None, f"'{np_.surface}' does not say the part's {missing}; name both colour and shape", 0.0


@dataclass
class _Reading:
    """What the parse has found so far: the tokens, their language and noun phrases, the task cues,
    and the confidence penalty and notes that corrections and inferences add up to."""

    tokens: list
    lang: str
    nps: list
    cues: set
    unknown: float
    penalty: float = 0.0
    notes: list[str] = field(default_factory=list)


def _screen(text: str, served: tuple[str, ...]) -> Understanding | _Reading:
    """The refusals that need no roles: empty, another language, an unserved verb, a word outside
    the vocabulary, gibberish; else the tokens and noun phrases to assign roles to."""
    if not isinstance(text, str) or not text.strip():
        return _refuse("empty", "the instruction is empty", "en")
    norm = normalize(text)
    if not norm or not any(c.isalnum() for c in norm):
        return _refuse("empty", "the instruction has no words", "en")
    tokens = tokenize(norm)
    lang = _language_of(tokens, norm)
    why = _other_language(norm, tokens)
    if why:
        return _refuse("other_language", why, "other")
    bad = [t for t in tokens if t.kind == "UNSERVED"]
    if bad:
        return _refuse("unserved_task", f"'{bad[0].surface}' is not a task this robot does "
                       f"(it can: {', '.join(served)})", lang)
    oov = [t for t in tokens if t.kind in ("OOV_COLOR", "OOV_SHAPE")]
    if oov:
        what = "colour" if oov[0].kind == "OOV_COLOR" else "shape"
        return _refuse("unknown_vocabulary", f"'{oov[0].surface}' is not a {what} this robot knows", lang)
    content = [t for t in tokens if t.kind in ("COLOR", "SHAPE", "BIN", "CONTAINER", "GENERIC", "CUE", "EFFECTOR")]
    unknown = _unknown_share(tokens)
    if not content or unknown > 0.6:
        return _refuse("gibberish", "the instruction does not read as a request to the robot", lang)
    nps = noun_phrases(tokens)
    odd = [n for n in nps if n.kind == "UNKNOWN"]
    if odd:
        return _refuse("unknown_vocabulary", f"'{odd[0].surface}' is not a part this robot knows", lang)
    r = _Reading(tokens, lang, nps, {t.value for t in tokens if t.kind == "CUE"}, unknown)
    r.penalty = 0.05 * sum(t.typo for t in tokens) + (0.05 if lang == "mixed" else 0.0)
    r.notes = [f"read '{t.surface}' as '{t.value}'" for t in tokens if t.typo]
    return r


def _roles(r: _Reading) -> tuple[list[NounPhrase], list[NounPhrase]]:
    """(parts, bins): which noun phrases are destinations and which are parts."""
    things = [n for n in r.nps if n.kind != "EFFECTOR" and n.role != "src"]
    explicit_bins = [n for n in things if n.kind == "BIN"]
    parts: list[NounPhrase] = []
    bins: list[NounPhrase] = list(explicit_bins)
    for n in things:
        if n.kind == "CONTAINER" and n.color is None:
            bins.append(n)  # a bare "box" / 箱 is a bin (箱に分けて, "into the box")
        elif n.kind == "CONTAINER":
            dest = n.role in ("dest", "on")
            others = [m for m in things if m is not n]
            if (dest and others) or (not dest and not explicit_bins and any(
                    m.kind != "CONTAINER" for m in others) and n.role not in ("obj", "topic")):
                bins.append(n)
            else:
                parts.append(n)
                r.penalty += 0.05
                r.notes.append(f"read '{n.surface}' as a box-shaped part (a cube)")
        elif n.kind != "BIN":
            parts.append(n)
    # a colour alone as the destination of a single part is its bin (赤キューブを青へ, "red cube -> blue")
    if not bins and len(parts) == 2 and "Stack" not in r.cues:
        lone = [n for n in parts if n.kind == "GENERIC" and n.shape is None and n.role == "dest" and n.color]
        if len(lone) == 1:
            parts.remove(lone[0])
            bins.append(lone[0])
    return parts, bins


def _task_and_goal(r: _Reading, parts: list[NounPhrase], bins: list[NounPhrase], default_task: str | None,
                   bins_present: list[str] | None) -> Understanding | tuple[str, dict, bool]:
    """(task, goal noun phrases and bin, whether a cue word named the task), or a refusal."""
    lang, cues = r.lang, r.cues
    goal: dict = {}
    task: str | None = None
    cue_named = True
    if "Sort" in cues and not any(n.color for n in parts):
        parts = []  # "sort the cubes by colour": the parts are all of them
    if not parts:
        if "Sort" in cues:
            task = "Sort"
        elif bins:
            return _refuse("incomplete", "a bin is named but not which part goes into it", lang)
        else:
            return _refuse("incomplete", "the instruction names no part the robot could act on", lang)
    elif len(parts) == 1 and bins:
        colours = {b.color for b in bins}
        if None in colours and len(colours) == 1:
            if bins_present is not None and len(bins_present) == 1:
                colours = {bins_present[0]}
                r.penalty += 0.1
            else:
                return _refuse("incomplete", "the bin's colour is not said (which bin?)", lang)
        colours.discard(None)
        if len(colours) > 1:
            return _refuse("ambiguous", f"two bins are named ({', '.join(sorted(colours))})", lang)
        goal["bin"] = colours.pop()
        goal["part_np"] = parts[0]
        task = "ConveyorPick" if "ConveyorPick" in cues else "PickPlace"
        cue_named = bool(cues & {"ConveyorPick", "PickPlace"})
    elif len(parts) == 1:
        p = parts[0]
        if p.role in ("on", "dest") or "Reach" in cues:
            task = "Reach"
            cue_named = "Reach" in cues or p.role == "on"
            goal["part_np"] = p
        elif "Stack" in cues:
            return _refuse("incomplete", "it says to stack a part but not onto which part", lang)
        elif "Sort" in cues and p.kind == "GENERIC" and p.color is None:
            task = "Sort"
        elif default_task == "Reach":
            task, cue_named = "Reach", False
            goal["part_np"] = p
            r.penalty += 0.1
        else:
            return _refuse("incomplete", "it names a part but not where it should go", lang)
    elif len(parts) == 2 and not bins:
        a, b = parts
        base_roles, top_roles = ("on", "dest"), ("obj", "topic", None, "and")
        if a.role == "under" or b.role == "under":
            top, base = (a, b) if a.role == "under" else (b, a)
            if base.role not in top_roles:
                return _refuse("ambiguous", "cannot tell which part goes on top", lang)
        elif a.role in base_roles and b.role in top_roles:
            top, base = b, a
        elif b.role in base_roles and a.role in top_roles:
            top, base = a, b
        else:
            return _refuse("ambiguous", "two parts are named but not which goes onto which", lang)
        task = "Stack"
        cue_named = "Stack" in cues or "on" in (a.role, b.role)
        goal["part_np"], goal["base_np"] = top, base
    else:
        return _refuse("ambiguous", f"{len(parts)} parts are named"
                       + (" with a bin" if bins else "") + "; cannot tell which one is meant", lang)
    assert task is not None
    return task, goal, cue_named


def understand(
    text: str,
    tasks: Iterable[str] = TASKS,
    scene_parts: Iterable[tuple[str, str]] | None = None,
    default_task: str | None = None,
    scene_bins: Iterable[str] | None = None,
) -> Understanding:
    """Parse ``text`` into a goal the policy can act on, or refuse with a reason.

    ``tasks``: the tasks the policy serves (its ONNX ``tasks`` metadata); anything else is refused.
    ``scene_parts``: the (colour, shape) pairs on the table; when given, a named part that is not
    there is refused (``absent_part``) and a part named by colour or shape alone is resolved when
    exactly one fits. ``scene_bins``: the bin colours present, checked the same way when given.
    ``default_task``: the task to assume when the words leave it open -- for a policy that serves
    a single task pass that task (e.g. ``default_task="PickPlace"`` for ``pick_place_v0``); it also
    lets "red cube to the blue bin" mean ConveyorPick for a conveyor-only policy.

    Three steps: :func:`_screen` (refusals that need no roles), :func:`_roles` (parts vs bins),
    :func:`_task_and_goal`; then the task is checked against ``tasks`` and the parts are grounded
    in the scene.
    """
    served = tuple(tasks)
    unknown_tasks = [t for t in served if t not in TASKS]
    if unknown_tasks:
        raise ValueError(f"unknown tasks {unknown_tasks}; choose from {', '.join(TASKS)}")
    scene = None if scene_parts is None else [Part(*p) for p in scene_parts]
    bins_present = None if scene_bins is None else list(scene_bins)

    r = _screen(text, served)
    if isinstance(r, Understanding):
        return r
    lang = r.lang
    parts, bins = _roles(r)
    chosen = _task_and_goal(r, parts, bins, default_task, bins_present)
    if isinstance(chosen, Understanding):
        return chosen
    task, goal, cue_named = chosen

    # the task the policy serves
    if task not in served:
        # a part-to-bin request without conveyor words, for a conveyor-only policy: the conveyor is
        # implied by the cell, not contradicted by the words
        if task == "PickPlace" and default_task == "ConveyorPick" and default_task in served:
            task = default_task
            r.penalty += 0.1
            r.notes.append(f"task taken as {default_task}, the task this policy serves")
        else:
            return _refuse("unserved_task", f"this asks for {task}; the policy serves only {', '.join(served)}", lang)
    if not cue_named:
        r.penalty += 0.05

    # ground the parts
    out = Understanding(True, task=task, language=lang, notes=r.notes)
    for slot in ("part_np", "base_np"):
        if slot in goal:
            part, why, pen = _resolve(goal[slot], scene, lang)
            if part is None:
                code = "absent_part" if why and "table" in why else "ambiguous"
                return _refuse(code, why or "cannot tell the part", lang)
            r.penalty += pen
            if scene is not None and part not in scene:
                return _refuse("absent_part", f"there is no {_describe(part, lang)} on the table", lang)
            setattr(out, "part" if slot == "part_np" else "base", part)
    if out.task == "Stack" and out.part == out.base:
        return _refuse("ambiguous", "a part cannot be stacked on itself", lang)
    if "bin" in goal:
        if bins_present is not None and goal["bin"] not in bins_present:
            return _refuse("absent_part", f"there is no {goal['bin']} bin in this cell", lang)
        out.bin = goal["bin"]
    out.confidence = float(min(1.0, max(0.05, 1.0 - r.penalty - 0.4 * r.unknown)))
    return out


def canonical(u: Understanding | Goal, language: str | None = None) -> str:
    """The understood goal in the first template the network was trained on, for ``language``
    (default: the instruction's own language; mixed text renders in English unless asked)."""
    goal = u.goal if isinstance(u, Understanding) else u
    if goal is None:
        raise ValueError("cannot render a refused instruction")
    lang = language or (u.language if isinstance(u, Understanding) and u.language in ("en", "ja") else "en")
    return TEMPLATES[goal.task][lang][0].format(**slot_phrases(goal, lang))
