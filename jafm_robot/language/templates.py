"""The phrasings the policies were trained on, as data: templates per task and language plus slot words.

They live here, in the bottom-layer language package, so that the instruction-understanding front end
(:mod:`jafm_robot.language.understanding`) can render a parsed goal back into exactly the language the
network learned without importing the envs (which sit above it). :mod:`jafm_robot.envs.instructions`
re-exports every name, so existing imports keep working.

Slots: ``{part}``, ``{bin}``, ``{top}``, ``{base}`` are filled with colour + shape / bin phrases
built from the word tables below (Japanese adjectives precede the noun: 赤いキューブ).
"""

from __future__ import annotations

TEMPLATES: dict[str, dict[str, list[str]]] = {
    "Reach": {
        "en": [
            "move the gripper above the {part}",
            "reach over the {part}",
            "hover above the {part}",
            "position the hand over the {part}",
            "go to the {part} and stop above it",
            "bring the gripper right above the {part}",
        ],
        "ja": [
            "グリッパーを{part}の上に動かして",
            "{part}の上まで手を伸ばして",
            "{part}の真上に移動して",
            "ハンドを{part}の上に持っていって",
            "{part}の上で止まってください",
            "{part}の上にグリッパーを近づけて",
        ],
    },
    "PickPlace": {
        "en": [
            "put the {part} in the {bin}",
            "pick up the {part} and place it in the {bin}",
            "move the {part} into the {bin}",
            "place the {part} into the {bin}",
            "grab the {part} and drop it in the {bin}",
            "transfer the {part} to the {bin}",
        ],
        "ja": [
            "{part}を{bin}に入れて",
            "{part}を持ち上げて{bin}に置いてください",
            "{part}を{bin}に移動して",
            "{part}を{bin}の中に置いて",
            "{part}をつかんで{bin}に入れてください",
            "{bin}に{part}を入れてください",
        ],
    },
    "ConveyorPick": {
        "en": [
            "take the {part} off the conveyor and put it in the {bin}",
            "pick the {part} from the belt into the {bin}",
            "grab the {part} on the conveyor and place it in the {bin}",
            "remove the {part} from the conveyor into the {bin}",
            "catch the {part} on the belt and drop it in the {bin}",
        ],
        "ja": [
            "コンベア上の{part}を{bin}に入れて",
            "ベルトから{part}を取って{bin}に置いて",
            "コンベアの{part}をつかんで{bin}に入れてください",
            "{part}をコンベアから{bin}へ移して",
            "流れてくる{part}を拾って{bin}に入れて",
        ],
    },
    "Stack": {
        "en": [
            "stack the {top} on the {base}",
            "put the {top} on top of the {base}",
            "place the {top} onto the {base}",
            "set the {top} on the {base}",
            "pile the {top} on the {base}",
        ],
        "ja": [
            "{top}を{base}の上に積んで",
            "{top}を{base}の上に置いて",
            "{base}の上に{top}を重ねて",
            "{top}を{base}に積み重ねてください",
            "{top}を持ち上げて{base}の上にのせて",
        ],
    },
    "Sort": {
        "en": [
            "sort the parts into the bins by colour",
            "put each part in the bin of its colour",
            "sort every part by colour",
            "place all parts into the matching colour bins",
            "move each part to the bin with the same colour",
        ],
        "ja": [
            "部品を色ごとに箱に分けて",
            "それぞれの部品を同じ色の箱に入れて",
            "全部の部品を色で仕分けして",
            "部品を色に合った箱に入れてください",
            "各部品を同じ色の箱へ移して",
        ],
    },
}

COLOR_WORDS: dict[str, dict[str, str]] = {
    "en": {"red": "red", "green": "green", "blue": "blue", "yellow": "yellow", "orange": "orange",
           "white": "white", "black": "black", "purple": "purple"},
    "ja": {"red": "赤い", "green": "緑の", "blue": "青い", "yellow": "黄色い", "orange": "オレンジ色の",
           "white": "白い", "black": "黒い", "purple": "紫の"},
}
SHAPE_WORDS: dict[str, dict[str, str]] = {
    "en": {"cube": "cube", "cylinder": "cylinder", "block": "block", "bolt": "bolt"},
    "ja": {"cube": "キューブ", "cylinder": "円柱", "block": "ブロック", "bolt": "ボルト"},
}
BIN_WORD: dict[str, str] = {"en": "bin", "ja": "箱"}


def _word(table: dict[str, dict[str, str]], language: str, key: str) -> str:
    # an unknown colour/shape from a custom scene still reads sensibly: the raw name is used
    return table[language].get(key, key)


def part_phrase(color: str, shape: str, language: str) -> str:
    c, s = _word(COLOR_WORDS, language, color), _word(SHAPE_WORDS, language, shape)
    return f"{c}{s}" if language == "ja" else f"{c} {s}"


def bin_phrase(color: str, language: str) -> str:
    c = _word(COLOR_WORDS, language, color)
    return f"{c}{BIN_WORD[language]}" if language == "ja" else f"{c} {BIN_WORD[language]}"
