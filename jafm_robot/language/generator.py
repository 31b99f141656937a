"""Paraphrase generator: thousands of distinct ordinary instructions for one goal.

Used to test the front end (every generated sentence must parse back to its goal) and, later, to
train or evaluate policies on varied wording. The env's own templates (:data:`.templates.TEMPLATES`)
are one subset of what it writes; the rest varies, independently:

* the part and bin words (synonyms from :mod:`.vocabulary`) and the colour form
  (red / red-coloured; 赤い / 赤の / 赤色の / レッドの / あかい / 赤 in compounds);
* the verb and the frame (verb first, destination first, topic は, shorthand ``red cube -> blue bin``
  / ``赤キューブ→青箱``);
* politeness and mood (please, could you, I need you to, would you mind; 〜して, 〜してください,
  〜していただけますか, 〜しておいて, 〜すること, 〜しなさい);
* surface noise: punctuation, capitals, full-width letters and half-width katakana, doubled
  spaces, a one-letter typo in a long English word, and (Japanese) an English part or bin phrase
  in a Japanese sentence (赤いcubeをblue binに).

Every variation is one the parser is built to read, so :func:`generate` never writes a sentence
whose meaning is unclear. Hand-written held-out phrasings (``tests/data/phrasings``) are kept out
of its reach by a test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from jafm_robot.language.goal import Goal, Part, slot_phrases
from jafm_robot.language.templates import TEMPLATES

__all__ = ["all_phrasings", "frames", "generate"]

# ------------------------------------------------------------------------------------- English
EN_COLOR_FORMS = ("{c}", "{c}", "{c}", "{c}-coloured", "{c} colored")
EN_SHAPES: dict[str, tuple[str, ...]] = {
    "cube": ("cube", "cube", "cubic block", "box-shaped part", "dice"),
    "cylinder": ("cylinder", "cylinder", "can", "tube", "canister", "cylindrical part"),
    "block": ("block", "block", "brick", "cuboid", "rectangular block", "bar"),
    "bolt": ("bolt", "bolt", "screw"),
}
EN_BINS = ("bin", "bin", "bin", "basket", "tray", "container", "crate", "box", "tub", "bucket", "tote")
EN_DET = ("the", "the", "the", "that", "this")

# (frame, verb-initial?) with {P} part, {B} bin, {T} top, {S} base; verb-initial frames take wrappers
EN_FRAMES: dict[str, tuple[tuple[str, bool], ...]] = {
    "PickPlace": (
        ("put {P} in {B}", True), ("put {P} into {B}", True), ("place {P} in {B}", True),
        ("place {P} into {B}", True), ("move {P} into {B}", True), ("move {P} to {B}", True),
        ("drop {P} in {B}", True), ("drop {P} into {B}", True), ("pick up {P} and put it in {B}", True),
        ("pick up {P} and place it in {B}", True), ("grab {P} and drop it in {B}", True),
        ("grab {P} and put it into {B}", True), ("transfer {P} to {B}", True), ("transfer {P} into {B}", True),
        ("load {P} into {B}", True), ("carry {P} over to {B}", True), ("bring {P} to {B}", True),
        ("insert {P} into {B}", True), ("deposit {P} in {B}", True), ("take {P} and put it in {B}", True),
        ("stow {P} in {B}", True), ("pick {P} up and drop it into {B}", True), ("get {P} into {B}", True),
        ("into {B}, put {P}", False), ("in {B}, place {P}", False), ("to {B}, move {P}", False),
        ("{P} -> {B}", False), ("{P} → {B}", False), ("{P} => {B}", False), ("{P} to {B}", False),
    ),
    "ConveyorPick": (
        ("take {P} off the conveyor and put it in {B}", True), ("pick {P} from the belt into {B}", True),
        ("grab {P} on the conveyor and place it in {B}", True), ("remove {P} from the conveyor into {B}", True),
        ("catch {P} on the belt and drop it in {B}", True), ("take {P} from the conveyor belt to {B}", True),
        ("move {P} from the conveyor to {B}", True), ("pick up {P} off the belt and put it into {B}", True),
        ("grab {P} off the conveyor and drop it into {B}", True), ("transfer {P} from the belt into {B}", True),
        ("take {P} off the belt and place it into {B}", True), ("pick {P} off the conveyor into {B}", True),
        ("from the conveyor, put {P} in {B}", False), ("off the belt, move {P} to {B}", False),
        ("conveyor: {P} -> {B}", False), ("belt: {P} → {B}", False),
    ),
    "Stack": (
        ("stack {T} on {S}", True), ("stack {T} onto {S}", True), ("stack {T} on top of {S}", True),
        ("put {T} on top of {S}", True), ("put {T} on {S}", True), ("place {T} onto {S}", True),
        ("place {T} on top of {S}", True), ("set {T} on {S}", True), ("pile {T} on {S}", True),
        ("put {T} atop {S}", True), ("pick up {T} and stack it on {S}", True), ("move {T} onto {S}", True),
        ("grab {T} and put it on top of {S}", True), ("lift {T} onto {S}", True),
        ("on top of {S}, stack {T}", False), ("onto {S}, put {T}", False), ("{T} -> {S}", False),
        ("{T} on top of {S}", False),
    ),
    "Reach": (
        ("move the gripper above {P}", True), ("reach over {P}", True), ("hover above {P}", True),
        ("hover over {P}", True), ("position the hand over {P}", True), ("go to {P} and stop above it", True),
        ("bring the gripper right above {P}", True), ("move the hand over {P}", True),
        ("move above {P}", True), ("go above {P}", True), ("place the gripper directly above {P}", True),
        ("hover the gripper over {P}", True), ("bring the arm above {P}", True), ("reach above {P}", True),
        ("above {P}, hover", False), ("gripper -> above {P}", False),
    ),
    "Sort": (
        ("sort the parts into the bins by {col}", True), ("put each part in the bin of its {col}", True),
        ("sort every part by {col}", True), ("place all parts into the matching {col} bins", True),
        ("move each part to the bin with the same {col}", True), ("sort all the parts by {col}", True),
        ("organise the parts by {col}", True), ("organize the pieces by {col}", True),
        ("separate the parts by {col}", True), ("group every piece by {col}", True),
        ("sort the pieces into bins by {col}", True), ("put every piece in the bin of the same {col}", True),
        ("sort everything by {col}", True), ("sort all parts into their {col} bins", True),
        ("classify the parts by {col}", True), ("put all the parts into bins by {col}", True),
        ("by {col}, sort the parts", False), ("sort: by {col}", False),
    ),
}
EN_WRAP = ("{X}", "{X}", "{X}", "please {X}", "{X}, please", "{X} please", "could you {X}?", "can you {X}?",
           "would you {X}?", "would you mind if you {X}?", "I need you to {X}", "I'd like you to {X}",
           "kindly {X}", "go ahead and {X}", "now {X}", "{X} now", "{X}, thanks", "hey robot, {X}",
           "robot, {X}", "ok, {X}", "could you please {X}?", "I need to have you {X}")
EN_WRAP_NONVERB = ("{X}", "{X}", "{X}, please", "please: {X}")

# ------------------------------------------------------------------------------------ Japanese
JA_COLOR_FORMS: dict[str, tuple[str, ...]] = {
    "red": ("赤い", "赤い", "赤の", "赤色の", "レッドの", "あかい", "赤"),
    "green": ("緑の", "緑の", "緑色の", "グリーンの", "みどりの", "緑"),
    "blue": ("青い", "青い", "青の", "青色の", "ブルーの", "あおい", "青"),
    "yellow": ("黄色い", "黄色い", "黄色の", "イエローの", "きいろい", "黄色"),
    "orange": ("オレンジ色の", "オレンジ色の", "オレンジの", "橙色の", "オレンジ"),
    "white": ("白い", "白い", "白の", "白色の", "ホワイトの", "しろい", "白"),
    "black": ("黒い", "黒い", "黒の", "黒色の", "ブラックの", "くろい", "黒"),
    "purple": ("紫の", "紫の", "紫色の", "パープルの", "むらさきの", "紫"),
}
JA_SHAPES: dict[str, tuple[str, ...]] = {
    "cube": ("キューブ", "キューブ", "立方体", "サイコロ", "箱型の部品"),
    "cylinder": ("円柱", "円柱", "シリンダー", "円筒", "缶"),
    "block": ("ブロック", "ブロック", "直方体", "角材", "レンガ"),
    "bolt": ("ボルト", "ボルト", "ねじ", "ネジ", "ビス"),
}
JA_BINS = ("箱", "箱", "箱", "ボックス", "かご", "カゴ", "ビン", "トレイ", "トレー", "コンテナ", "容器", "ケース")

# verbs: (te-form, masu-stem, dictionary form)
JA_VERBS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "into": (("入れて", "入れ", "入れる"), ("置いて", "置き", "置く"), ("移して", "移し", "移す"),
             ("運んで", "運び", "運ぶ"), ("しまって", "しまい", "しまう"), ("移動して", "移動し", "移動する"),
             ("片付けて", "片付け", "片付ける"), ("収納して", "収納し", "収納する"), ("戻して", "戻し", "戻す")),
    "stack": (("積んで", "積み", "積む"), ("重ねて", "重ね", "重ねる"), ("のせて", "のせ", "のせる"),
              ("載せて", "載せ", "載せる"), ("置いて", "置き", "置く"), ("乗せて", "乗せ", "乗せる")),
    "reach": (("移動して", "移動し", "移動する"), ("動かして", "動かし", "動かす"), ("持っていって", "持っていき", "持っていく"),
              ("近づけて", "近づけ", "近づける")),
    "self": (("移動して", "移動し", "移動する"), ("行って", "行き", "行く")),
    "stop": (("止まって", "止まり", "止まる"), ("停止して", "停止し", "停止する")),
    "sort": (("分けて", "分け", "分ける"), ("仕分けして", "仕分けし", "仕分けする"), ("入れて", "入れ", "入れる"),
             ("分類して", "分類し", "分類する"), ("移して", "移し", "移す")),
}
JA_ENDINGS = ("{te}", "{te}", "{te}ください", "{te}ください", "{te}いただけますか", "{te}おいて", "{te}もらえますか",
              "{te}くれますか", "{te}くれる？", "{te}ほしいです", "{dict}こと", "{masu}なさい", "{te}おいてください",
              "{te}いただけませんか", "{te}ね", "{te}もらえませんか")
JA_PREFIX = ("", "", "", "", "すみません、", "ちょっと", "まず", "ロボット、", "悪いけど、", "じゃあ")

# frames: (frame, verb class or None for no verb); {V} is the conjugated verb with its ending
JA_FRAMES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "PickPlace": (
        ("{P}を{B}に{V}", "into"), ("{B}に{P}を{V}", "into"), ("{P}は{B}に{V}", "into"),
        ("{P}を{B}の中に{V}", "into"), ("{P}を{B}へ{V}", "into"), ("{P}をつかんで{B}に{V}", "into"),
        ("{P}を持ち上げて{B}に{V}", "into"), ("{P}を取って{B}に{V}", "into"), ("{P}を拾って{B}へ{V}", "into"),
        ("{B}の中に{P}を{V}", "into"), ("{P}を{B}まで{V}", "into"),
        ("{P}→{B}", None), ("{P}を{B}に", None), ("{P}を{B}へ。", None),
    ),
    "ConveyorPick": (
        ("コンベア上の{P}を{B}に{V}", "into"), ("ベルトから{P}を取って{B}に{V}", "into"),
        ("コンベアの{P}をつかんで{B}に{V}", "into"), ("{P}をコンベアから{B}へ{V}", "into"),
        ("流れてくる{P}を拾って{B}に{V}", "into"), ("ベルトコンベアの{P}を{B}に{V}", "into"),
        ("コンベアから{P}を{B}に{V}", "into"), ("ベルト上の{P}を{B}の中に{V}", "into"),
        ("{B}に、コンベア上の{P}を{V}", "into"), ("コンベアの上の{P}を取って{B}に{V}", "into"),
        ("コンベア：{P}→{B}", None),
    ),
    "Stack": (
        ("{T}を{S}の上に{V}", "stack"), ("{S}の上に{T}を{V}", "stack"), ("{T}を{S}に積み重ねて", None),
        ("{T}を持ち上げて{S}の上に{V}", "stack"), ("{T}は{S}の上に{V}", "stack"), ("{T}を{S}に{V}", "stack"),
        ("{S}に{T}を{V}", "stack"), ("{T}をつかんで{S}の上に{V}", "stack"), ("{T}→{S}の上", None),
    ),
    "Reach": (
        ("グリッパーを{P}の上に{V}", "reach"), ("ハンドを{P}の真上に{V}", "reach"), ("{P}の真上に{V}", "self"),
        ("{P}の上まで手を伸ばして", None), ("{P}の上で{V}", "stop"), ("アームを{P}の上へ{V}", "reach"),
        ("{P}の上にグリッパーを{V}", "reach"), ("手を{P}の真上に{V}", "reach"), ("{P}の真上まで{V}", "self"),
    ),
    "Sort": (
        ("{A}を{M}{V}", "sort"), ("{M}{A}を{V}", "sort"), ("{A}は{M}{V}", "sort"),
    ),
}
JA_SORT_SUBJECTS = ("部品", "全部の部品", "すべての部品", "それぞれの部品", "各部品", "全ての部品", "部品を全部")
JA_SORT_MANNER = ("色ごとに箱に", "色別に", "色で", "同じ色の箱に", "色に合った箱に", "色ごとに", "色別に箱へ",
                  "同じ色のかごに", "色に合わせて箱に")


def frames(task: str, language: str) -> list[str]:
    """The generator's frames for ``task`` in ``language`` (slot letters P, B, T, S; Japanese {V}
    is a verb with its politeness ending)."""
    table = EN_FRAMES if language == "en" else JA_FRAMES
    return [f for f, _ in table[task]]


# ---------------------------------------------------------------------------------- assembling
def _pick(rng: np.random.Generator, options: tuple | list):
    return options[int(rng.integers(len(options)))]


def _en_part(p: Part, rng: np.random.Generator, det: bool = True) -> str:
    c = _pick(rng, EN_COLOR_FORMS).format(c=p.color)
    np_ = f"{c} {_pick(rng, EN_SHAPES[p.shape])}"
    return f"{_pick(rng, EN_DET)} {np_}" if det else np_


def _en_bin(color: str, rng: np.random.Generator, det: bool = True) -> str:
    np_ = f"{_pick(rng, EN_COLOR_FORMS).format(c=color)} {_pick(rng, EN_BINS)}"
    return f"{_pick(rng, ('the', 'the', 'that'))} {np_}" if det else np_


def _ja_part(p: Part, rng: np.random.Generator) -> str:
    return f"{_pick(rng, JA_COLOR_FORMS[p.color])}{_pick(rng, JA_SHAPES[p.shape])}"


def _ja_bin(color: str, rng: np.random.Generator) -> str:
    return f"{_pick(rng, JA_COLOR_FORMS[color])}{_pick(rng, JA_BINS)}"


def _en_sentence(task: str, goal: Goal, rng: np.random.Generator) -> str:
    frame, verb_first = _pick(rng, EN_FRAMES[task])
    shorthand = ("->" in frame or "→" in frame or "=>" in frame or ":" in frame)
    det = not (shorthand and rng.random() < 0.7)
    slots = {"col": _pick(rng, ("colour", "color"))}
    if goal.part is not None:
        slots["P"] = slots["T"] = _en_part(goal.part, rng, det)
    if goal.base is not None:
        slots["S"] = _en_part(goal.base, rng, det)
    if goal.bin is not None:
        slots["B"] = _en_bin(goal.bin, rng, det)
    core = frame.format(**slots)
    wrap = _pick(rng, EN_WRAP if verb_first else EN_WRAP_NONVERB) if not shorthand else "{X}"
    text = wrap.replace("{X}", core)
    if not text.endswith("?") and rng.random() < 0.35:
        text += _pick(rng, (".", ".", "!"))
    return text


def _ja_verb(cls: str, rng: np.random.Generator) -> str:
    te, masu, dic = _pick(rng, JA_VERBS[cls])
    return _pick(rng, JA_ENDINGS).format(te=te, masu=masu, dict=dic)


def _ja_sentence(task: str, goal: Goal, rng: np.random.Generator) -> str:
    frame, cls = _pick(rng, JA_FRAMES[task])
    mixed = rng.random() < 0.1  # an English part or bin phrase inside a Japanese sentence
    slots: dict[str, str] = {}
    if goal.part is not None:
        slots["P"] = slots["T"] = (_en_part(goal.part, rng, False) if mixed and rng.random() < 0.5
                                   else _ja_part(goal.part, rng))
    if goal.base is not None:
        slots["S"] = _ja_part(goal.base, rng)
    if goal.bin is not None:
        slots["B"] = _en_bin(goal.bin, rng, False) if mixed else _ja_bin(goal.bin, rng)
    if task == "Sort":
        slots["A"], slots["M"] = _pick(rng, JA_SORT_SUBJECTS), _pick(rng, JA_SORT_MANNER)
    if cls is not None:
        slots["V"] = _ja_verb(cls, rng)
    text = frame.format(**slots)
    if cls is not None:
        text = _pick(rng, JA_PREFIX) + text
        if rng.random() < 0.3:
            text += _pick(rng, ("。", "！", "!"))
    if rng.random() < 0.15 and "を" in text:
        text = text.replace("を", _pick(rng, ("を、", "を ")), 1)
    return text


# ------------------------------------------------------------------------------------- noise
_TYPO_WORDS = ("cylinder", "yellow", "purple", "orange", "container", "basket", "conveyor", "cylindrical",
               "canister", "bucket", "please", "transfer", "deposit", "stack", "green", "white", "black", "brick",
               "block", "place", "hover")


_MULTIWORD_NEIGHBOURS = frozenset({"cubic", "rectangular", "cylindrical", "box-shaped", "round"})


def _typo(text: str, rng: np.random.Generator) -> str:
    """One interior letter dropped, doubled or swapped in a long content word (the parser's one-edit
    correction reads it back; a change it could not read back uniquely is not made)."""
    from jafm_robot.language.understanding import correct_typo  # the parser is the judge

    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if w.strip(".,!?") in _TYPO_WORDS and len(w.strip(".,!?")) >= 5]
    if not idx:
        return text
    i = _pick(rng, idx)
    w = words[i].strip(".,!?")
    if {words[j] for j in (i - 1, i + 1) if 0 <= j < len(words)} & _MULTIWORD_NEIGHBOURS:
        return text  # a typo inside "cubic block" / "cylindrical part" would split the phrase
    k = int(rng.integers(1, len(w) - 1))
    kind = int(rng.integers(3))
    bad = (w[:k] + w[k + 1:] if kind == 0 else w[:k] + w[k] + w[k:] if kind == 1
           else w[:k - 1] + w[k] + w[k - 1] + w[k + 1:])
    if bad == w or correct_typo(bad) != correct_typo(w):
        return text
    words[i] = words[i].replace(w, bad)
    return " ".join(words)


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


_HALF_KATA = dict(zip("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンァィゥェォッャュョー",
                      "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｯｬｭｮｰ", strict=True))
_HALF_VOICED = {"ガ": "ｶﾞ", "ギ": "ｷﾞ", "グ": "ｸﾞ", "ゲ": "ｹﾞ", "ゴ": "ｺﾞ", "ザ": "ｻﾞ", "ジ": "ｼﾞ", "ズ": "ｽﾞ", "ゼ": "ｾﾞ",
                "ゾ": "ｿﾞ", "ダ": "ﾀﾞ", "デ": "ﾃﾞ", "ド": "ﾄﾞ", "バ": "ﾊﾞ", "ビ": "ﾋﾞ", "ブ": "ﾌﾞ", "ベ": "ﾍﾞ", "ボ": "ﾎﾞ",
                "パ": "ﾊﾟ", "ピ": "ﾋﾟ", "プ": "ﾌﾟ", "ペ": "ﾍﾟ", "ポ": "ﾎﾟ"}


def _half_width_katakana(text: str) -> str:
    return "".join(_HALF_VOICED.get(c) or _HALF_KATA.get(c, c) for c in text)


def _noise(text: str, language: str, rng: np.random.Generator) -> str:
    if language == "en":
        r = rng.random()
        if r < 0.3:
            text = text[0].upper() + text[1:]
        elif r < 0.33:
            text = text.upper()
        if rng.random() < 0.12:
            text = _typo(text, rng)
    elif rng.random() < 0.06:
        text = _half_width_katakana(text)
    if rng.random() < 0.05:
        text = _full_width(text)
    if rng.random() < 0.08 and " " in text:
        spaces = [i for i, c in enumerate(text) if c == " "]
        i = _pick(rng, spaces)
        text = text[:i] + "  " + text[i:]
    if rng.random() < 0.04:
        text = f"  {text} "
    return text


# ------------------------------------------------------------------------------------ public
def _env_template(task: str, language: str, goal: Goal, rng: np.random.Generator) -> str:
    return _pick(rng, TEMPLATES[task][language]).format(**slot_phrases(goal, language))


def generate(task: str, language: str, goal: Goal, rng: np.random.Generator, n: int) -> list[str]:
    """``n`` instructions for ``goal`` in ``language`` (``en`` or ``ja``), distinct as far as the
    goal allows (a goal whose sentence space is smaller than ``n`` repeats some).

    About one in ten is one of the env's own templates (the policy's training language)."""
    if goal.task != task:
        raise ValueError(f"goal is a {goal.task} goal, not {task}")
    if language not in ("en", "ja"):
        raise ValueError(f"language must be 'en' or 'ja', got {language!r}")
    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        tries += 1
        if rng.random() < 0.1:
            text = _env_template(task, language, goal, rng)
        else:
            text = _en_sentence(task, goal, rng) if language == "en" else _ja_sentence(task, goal, rng)
            text = _noise(text, language, rng)
        if text in seen and tries < 50 * n:
            continue
        seen.add(text)
        out.append(text)
    return out


def all_phrasings(task: str, language: str, goal: Goal, limit: int = 100_000) -> Iterator[str]:
    """Every noise-free sentence of the generator for ``goal`` (frames x words x politeness), in a
    fixed order, at most ``limit``: for audits and deterministic evaluation sets."""
    count = 0
    if language == "en":
        def parts(p: Part | None) -> list[str]:
            if p is None:
                return [""]
            return [f"the {f.format(c=p.color)} {s}" for f in dict.fromkeys(EN_COLOR_FORMS)
                    for s in dict.fromkeys(EN_SHAPES[p.shape])]

        bins = [""] if goal.bin is None else [f"the {f.format(c=goal.bin)} {b}" for f in dict.fromkeys(EN_COLOR_FORMS)
                                              for b in dict.fromkeys(EN_BINS)]
        for (frame, vf), wrap, p, s, b, col in itertools.product(
                EN_FRAMES[task], dict.fromkeys(EN_WRAP), parts(goal.part), parts(goal.base), bins, ("colour", "color")):
            if not vf and wrap != "{X}":
                continue
            yield wrap.replace("{X}", frame.format(P=p, T=p, S=s, B=b, col=col))
            count += 1
            if count >= limit:
                return
    else:
        def jparts(p: Part | None) -> list[str]:
            if p is None:
                return [""]
            return [c + s for c in dict.fromkeys(JA_COLOR_FORMS[p.color]) for s in dict.fromkeys(JA_SHAPES[p.shape])]

        jbins = [""] if goal.bin is None else [c + b for c in dict.fromkeys(JA_COLOR_FORMS[goal.bin])
                                               for b in dict.fromkeys(JA_BINS)]
        verbs = {cls: [e.format(te=te, masu=m, dict=d) for (te, m, d) in vs for e in dict.fromkeys(JA_ENDINGS)]
                 for cls, vs in JA_VERBS.items()}
        subjects = JA_SORT_SUBJECTS if task == "Sort" else ("",)
        manners = JA_SORT_MANNER if task == "Sort" else ("",)
        for (frame, cls), p, s, b, a, m in itertools.product(
                JA_FRAMES[task], jparts(goal.part), jparts(goal.base), jbins, subjects, manners):
            for v in (verbs[cls] if cls else [""]):
                yield frame.format(P=p, T=p, S=s, B=b, A=a, M=m, V=v)
                count += 1
                if count >= limit:
                    return
