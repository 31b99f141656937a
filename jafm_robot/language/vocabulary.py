"""The lexicon of the instruction front end, as data: what each word means to the slot parser.

Everything the parser knows is here, so adding a synonym is a one-line change and the generator
(:mod:`jafm_robot.language.generator`) draws its paraphrases from the same tables it is tested
against. Keys of colour/shape tables are the canonical names of ``templates.COLOR_WORDS`` /
``templates.SHAPE_WORDS`` (the names the scenes and the policy use).

Japanese surfaces are matched longest-first on the normalised text (NFKC, so half-width katakana
and full-width letters arrive here already folded); English surfaces are matched on lower-cased
word tokens, multi-word entries as whole token sequences.

**How "box" is resolved.** ``box`` / ``箱`` / ``ボックス`` / ``ケース`` (:data:`CONTAINERS`) name a bin
in ordinary speech but a box-shaped part is a cube. The parser decides by the noun phrase's role:
after a destination preposition (in, into, to, onto, ->) or before a destination particle
(に, へ, の中に, の上に, →) it is a **bin**; as the object (before を, after the verb, or as the
topic は) it is a **cube** when another noun phrase names the destination, and a bin otherwise.
A phrase that cannot be read either way is refused, never guessed. ``box-shaped`` / ``箱型`` is
always the cube shape.
"""

from __future__ import annotations

from jafm_robot.contract import TASKS

# ---------------------------------------------------------------------------------------- colours
#: surface -> canonical colour. Japanese entries are stems/adjectives; a following の or 色の is
#: consumed by the parser (赤の箱, 赤色の箱, 赤いキューブ, 赤キューブ all read as red).
COLORS: dict[str, dict[str, str]] = {
    "en": {
        "red": "red", "green": "green", "blue": "blue", "yellow": "yellow", "orange": "orange",
        "white": "white", "black": "black", "purple": "purple",
    },
    "ja": {
        "赤い": "red", "赤色": "red", "赤": "red", "あかい": "red", "レッド": "red", "紅色": "red",
        "緑色": "green", "緑": "green", "みどり": "green", "グリーン": "green",
        "青い": "blue", "青色": "blue", "青": "blue", "あおい": "blue", "ブルー": "blue",
        "黄色い": "yellow", "黄色": "yellow", "きいろい": "yellow", "きいろ": "yellow", "イエロー": "yellow",
        "黄": "yellow",
        "オレンジ色": "orange", "オレンジ": "orange", "橙色": "orange", "だいだい色": "orange",
        "白い": "white", "白色": "white", "白": "white", "しろい": "white", "ホワイト": "white",
        "黒い": "black", "黒色": "black", "黒": "black", "くろい": "black", "ブラック": "black",
        "紫色": "purple", "紫": "purple", "むらさき": "purple", "パープル": "purple",
    },
}

#: colours people use that no scene or policy knows: refused with a specific reason, not guessed.
OOV_COLORS: dict[str, tuple[str, ...]] = {
    "en": ("pink", "brown", "grey", "gray", "gold", "golden", "silver", "cyan", "magenta", "beige",
           "turquoise", "navy", "maroon", "violet", "teal", "crimson", "indigo", "transparent", "clear",
           "rainbow", "lime", "khaki", "bronze", "copper"),
    "ja": ("ピンク色", "ピンク", "桃色", "茶色い", "茶色", "ブラウン", "灰色", "グレー", "ねずみ色", "金色",
           "ゴールド", "銀色", "シルバー", "水色", "空色", "紺色", "ベージュ", "透明", "虹色", "黄緑", "金の", "銀の"),
}

# ----------------------------------------------------------------------------------------- shapes
SHAPES: dict[str, dict[str, str]] = {
    "en": {
        "cube": "cube", "cubes": "cube", "cubic block": "cube", "cubic": "cube", "box shaped part": "cube",
        "box shaped block": "cube", "box shaped": "cube", "dice": "cube", "die": "cube",
        "cylinder": "cylinder", "cylinders": "cylinder", "cylindrical part": "cylinder", "cylindrical": "cylinder", "can": "cylinder",
        "tube": "cylinder", "round peg": "cylinder", "roller": "cylinder", "canister": "cylinder",
        "block": "block", "blocks": "block", "brick": "block", "bricks": "block", "bar": "block",
        "cuboid": "block", "slab": "block", "rectangular block": "block",
        "bolt": "bolt", "bolts": "bolt", "screw": "bolt", "screws": "bolt",
    },
    "ja": {
        "キューブ": "cube", "立方体": "cube", "サイコロ": "cube", "さいころ": "cube", "箱型": "cube",
        "箱形": "cube", "四角い箱": "cube",
        "円柱": "cylinder", "シリンダー": "cylinder", "シリンダ": "cylinder", "円筒": "cylinder",
        "筒": "cylinder", "缶": "cylinder", "丸棒": "cylinder",
        "ブロック": "block", "直方体": "block", "角材": "block", "レンガ": "block", "れんが": "block",
        "ボルト": "bolt", "ねじ": "bolt", "ネジ": "bolt", "螺子": "bolt", "ビス": "bolt",
    },
}
#: shape words that are also ordinary function words ("can you ..."): a shape only right after a colour.
SHAPES_NEED_COLOR: frozenset[str] = frozenset({"can", "die", "bar", "screw", "screws"})

OOV_SHAPES: dict[str, tuple[str, ...]] = {
    "en": ("sphere", "spheres", "ball", "balls", "gear", "gears", "nut", "nuts", "washer", "washers",
           "ring", "rings", "cone", "cones", "pyramid", "pyramids", "spring", "springs", "pipe", "pipes",
           "marble", "marbles", "disc", "disk", "plate", "triangle", "prism", "star", "sprocket",
           "bearing", "bearings", "pin", "pins", "nail", "nails", "rivet", "rivets", "hexagon",
           "widget", "widgets", "bracket", "brackets", "bottle", "bottles", "cup", "cups"),
    "ja": ("ボール", "球体", "球", "歯車", "ギア", "ギヤ", "ナット", "ワッシャー", "リング", "輪っか",
           "円錐", "三角錐", "ピラミッド", "ばね", "バネ", "スプリング", "パイプ", "ビー玉", "円盤",
           "三角柱", "六角柱", "ベアリング", "ピン", "釘", "くぎ", "リベット", "ブラケット", "ペットボトル",
           "ボトル", "コップ", "カップ", "星形"),
}

# ------------------------------------------------------------------------------------------- bins
#: nouns that always name a bin (the destination of PickPlace/ConveyorPick).
BINS: dict[str, tuple[str, ...]] = {
    "en": ("bin", "bins", "basket", "baskets", "tray", "trays", "container", "containers", "crate",
           "crates", "tub", "tubs", "bucket", "buckets", "tote", "totes", "receptacle"),
    "ja": ("ビン", "かご", "カゴ", "籠", "トレイ", "トレー", "コンテナ", "容器", "入れ物", "バケツ", "回収箱",
           "収納箱", "ボックス箱"),
}
#: nouns that are a bin as a destination and a cube as the object (see the module docstring).
CONTAINERS: dict[str, tuple[str, ...]] = {
    "en": ("box", "boxes", "case"),
    "ja": ("箱", "ボックス", "ケース"),
}

#: nouns that name "a part" without its shape (赤い部品, the red piece): resolved with the scene.
GENERIC_PARTS: dict[str, tuple[str, ...]] = {
    "en": ("part", "parts", "piece", "pieces", "one", "item", "items", "object", "objects", "thing",
           "things", "component", "components", "workpiece", "workpieces"),
    "ja": ("部品", "パーツ", "ワーク", "もの", "物", "やつ", "部材"),
}
#: the robot's own hand: a noun phrase for it is not a part (グリッパーを…の上に動かして is Reach).
EFFECTORS: dict[str, tuple[str, ...]] = {
    "en": ("gripper", "hand", "arm", "robot", "end effector", "claw", "tool", "fingers"),
    "ja": ("グリッパー", "グリッパ", "ハンド", "手先", "手", "アーム", "ロボット", "爪"),
}

# ------------------------------------------------------------------------- roles (where things go)
#: English prepositions before a noun phrase -> its role. ``dest``: into it (a bin, or a stacking
#: base); ``on``: on top of / above it; ``under``: the phrase after it is the *top* of a stack;
#: ``src``: where the part comes from (ignored as a goal slot).
EN_PREPOSITIONS: dict[str, str] = {
    "in": "dest", "into": "dest", "inside": "dest", "inside of": "dest", "to": "dest", "toward": "dest",
    "towards": "dest", "in to": "dest", "onto": "on", "on to": "on", "on": "on", "on top of": "on",
    "atop": "on", "upon": "on", "over": "on", "above": "on", "right above": "on", "directly above": "on",
    "right over": "on", "directly over": "on", "under": "under", "below": "under", "beneath": "under",
    "underneath": "under", "from": "src", "off": "src", "out of": "src", "off of": "src",
}
#: Japanese particles after a noun phrase -> its role (の上に before に: longest match wins).
JA_PARTICLES: dict[str, str] = {
    "を": "obj", "は": "topic", "に": "dest", "へ": "dest", "まで": "dest", "の中に": "dest", "の中へ": "dest",
    "の中": "dest", "の方に": "dest", "の方へ": "dest", "のなかに": "dest", "内に": "dest", "の中まで": "dest",
    "の上に": "on", "の上へ": "on", "の上で": "on", "の上まで": "on", "の上": "on", "の真上に": "on",
    "の真上へ": "on", "の真上で": "on", "の真上まで": "on", "の真上": "on", "のうえに": "on", "上に": "on",
    "の上方に": "on", "の下に": "under", "の下へ": "under", "から": "src", "と": "and",
}
#: shorthand arrows (after normalisation): the phrase after one is the destination.
ARROWS: tuple[str, ...] = ("→", "->", "=>", "⇒", "-->", "⟶", "➡", "＞", ">")

# ------------------------------------------------------------------------------------ task cues
#: words that say which task is meant. Structure decides most of it (a part and a bin is
#: PickPlace); a cue settles what structure cannot (the conveyor, stacking, sorting).
TASK_CUES: dict[str, dict[str, tuple[str, ...]]] = {
    "Reach": {
        "en": ("hover", "hovering", "reach", "reach over", "position the gripper", "point at", "stop above",
               "stop over", "go above", "move above", "move over", "go over"),
        "ja": ("真上", "手を伸ば", "ホバー", "止ま", "止め", "近づけ", "待機"),
    },
    "PickPlace": {
        "en": ("put", "place", "drop", "insert", "deposit", "load", "store", "stow", "transfer", "carry",
               "bring", "deliver", "pop", "set", "move", "relocate", "shift", "pick", "pick up", "grab", "take",
               "get", "lift", "fetch"),
        "ja": ("入れ", "いれ", "置い", "置き", "置く", "移し", "移動", "運ん", "運び", "運ぶ", "はこん",
               "しまっ", "しまい", "片付け", "かたづけ", "収納", "格納", "戻し", "移し替え", "持っていっ",
               "持って行っ", "動かし", "動かす", "つかん", "掴ん", "取っ", "拾っ", "拾い", "持ち上げ", "落とし", "投入"),
    },
    "ConveyorPick": {
        "en": ("conveyor", "conveyors", "conveyer", "conveyor belt", "belt", "the line", "production line",
               "moving belt", "coming down", "coming along", "passing by", "passes by", "passing"),
        "ja": ("コンベア", "コンベヤ", "コンベヤー", "コンベアー", "ベルトコンベア", "ベルト", "ライン", "流れて", "流れ",
               "コンベア上", "ベルト上", "コンベアの上", "ベルトの上", "ラインの上", "ライン上"),
    },
    "Stack": {
        "en": ("stack", "stacking", "stacked", "pile", "pile up", "heap", "balance", "tower"),
        "ja": ("積ん", "積み", "積む", "積め", "つん", "重ね", "かさね", "のせ", "乗せ", "載せ", "のっけ"),
    },
    "Sort": {
        "en": ("sort", "sorting", "sort out", "organise", "organize", "separate", "group", "classify",
               "by colour", "by color", "by their colour", "by their color", "by its colour", "by its color",
               "matching colour", "matching color", "same colour", "same color", "its colour", "its color",
               "their colour", "their color", "its own colour", "its own color", "each part", "every part",
               "all parts", "all the parts", "all of the parts", "everything", "each piece", "every piece",
               "all pieces", "all the pieces", "according to colour", "according to color", "colour coded",
               "color coded", "matching bins", "matching bin"),
        "ja": ("仕分け", "しわけ", "分けて", "分け", "わけて", "分類", "色ごと", "色別", "色で", "同じ色", "色に合っ",
               "色に合わせ", "色の合う", "全部の部品", "すべての部品", "全ての部品", "それぞれの部品", "各部品",
               "部品を全部", "部品をすべて", "全部", "それぞれ", "整理"),
    },
}

#: things the shipped tasks cannot do: refused as an unserved task, whatever else is said.
UNSERVED: dict[str, tuple[str, ...]] = {
    "en": ("weld", "welding", "paint", "painting", "spray", "drill", "drilling", "cut", "cutting", "glue",
           "solder", "soldering", "polish", "grind", "sand down",
           "tighten", "unscrew", "loosen", "assemble", "assembly", "inspect", "measure", "weigh", "clean",
           "wipe", "wash", "throw", "toss", "break", "smash", "crush", "hammer", "open", "fold",
           "pour", "cook", "wave", "dance", "sing", "label", "scan", "rotate", "spin", "flip", "turn over",
           "push", "shake", "hit", "kick", "bend", "melt", "wrap", "package", "count", "photograph",
           "hand me", "give me", "bring me", "juggle", "stir", "squeeze"),
    "ja": ("溶接", "塗装", "塗っ", "塗る", "ペンキ", "スプレー", "穴を開け", "穴をあけ", "穴あけ", "ドリル", "切っ",
           "切断", "削っ", "研磨", "磨い", "接着", "はんだ", "ねじ込", "ネジ込", "締め", "緩め", "組み立て", "組立",
           "検査", "測っ", "計測", "重さを", "掃除", "拭い", "拭き", "洗っ", "投げ", "壊し", "潰し", "回して",
           "回転", "ひっくり返", "裏返", "押し", "振っ", "叩", "開け", "閉め", "曲げ", "溶かし", "包ん", "梱包",
           "数え", "撮影", "写真", "踊", "歌っ", "渡して"),
}

# ------------------------------------------------------------------------- known filler words
#: English words that carry no slot (articles, politeness, modals, pronouns, adverbs, common verbs):
#: known, so they do not count as unknown words against the confidence or the gibberish check.
EN_FILLER: frozenset[str] = frozenset("""
a an the this that these those it its it's them their there here then and or but so now next first
please pls plz kindly could would can will shall should may might must you your yours i i'd i'm me my we
us our let's lets let need needs want wants like would've be is are was were been being do does did done
have has had get gets got go goes going went make sure just right away quickly slowly carefully gently
mind if okay ok hey hi hello robot thanks thank cheers also again one's for with of at by as up down
out over some any all each every both other another same own small little big large tiny
colored coloured colour color of sitting lying located sits lies placed standing waiting that's which
what where is it's you'd could you'd i'd appreciate appreciated grateful help time now soon asap
while when after before finally end stop leave keep them up down pick pickup inside correct matching
is be am do it on into cheers mate buddy pal friend sir ma'am team guys folks alright all right yes
hand gripper arm robot you'll we'll we'd i'll someone somebody
side please task job simply over there place it's spot top area then
comes come coming arrives arrive arriving lower stick hold holding wait release let go gets goes
should needs needed want wanted would like able mind down for me moment yourself there thats below
belongs belong then afterwards later
rectangular round square metal metallic plastic wooden
""".split())

#: Japanese endings, politeness and function morphemes: known, never counted as unknown.
JA_FILLER: tuple[str, ...] = (
    "してください", "していただけますか", "していただけませんか", "してくれませんか", "してくれますか", "してもらえますか",
    "してもらえませんか", "しておいてください", "しておいて", "しといて", "すること", "してほしい", "して欲しい",
    "お願いします", "お願いいたします", "お願い", "おねがい", "ください", "下さい", "くれ", "くれる", "ちょうだい",
    "して", "する", "します", "しろ", "しなさい", "ておいて", "といて", "てください", "ていただけますか",
    "いただけますか", "もらえますか", "くれますか", "ませんか", "ますか", "ます", "です", "ね", "よ", "な", "か",
    "て", "で", "た", "だ", "い", "う", "る", "ろ", "ん", "さい", "その", "この", "あの", "それ", "これ", "あれ", "それを",
    "そこ", "ここ", "あそこ", "すぐ", "すぐに", "今", "いま", "ちょっと", "まず", "次に", "そして", "それから",
    "あと", "後で", "そっと", "丁寧に", "ゆっくり", "慎重に", "静かに", "さっと", "きちんと", "ちゃんと",
    "の", "も", "が", "ちゃって", "て", "上げ", "あげ", "おいて", "置いておいて", "き", "ぎ", "し", "せ",
    "すみません", "すいません", "ごめん", "悪いけど", "悪いんだけど", "恐れ入りますが", "申し訳ないですが",
    "なさい", "なあ", "かな", "かしら", "ほしい", "欲しい", "たい", "いい", "よろしく", "頼む", "頼みます",
    "お", "ご", "ってくれ", "って", "っ", "ほど", "ちゃん", "くん", "ロボット", "さん", "ように", "こと",
    "中", "色", "ところ", "場所", "方", "ほう", "位置", "側", "上", "ぐ", "げ", "持", "取", "入", "置", "移", "運",
)

# ------------------------------------------------------------------------- other languages
#: characters used in Chinese but not in Japanese (simplified forms, Chinese function characters).
#: A Han-only text with one of these, or with Han characters the Japanese lexicon does not know, is
#: Chinese: Japanese instructions always carry kana except for shorthand like 赤円柱→青箱.
CHINESE_ONLY: frozenset[str] = frozenset(
    "把请们这个吗呢么给里进红蓝绿黑块圆盒筐篮颜拿叠类别乐东车长门问时见说话让对帮过还没从边样处钟该的"
)
#: function words that mark French, German, Spanish, Italian or Portuguese (and their colour words).
FOREIGN_WORDS: frozenset[str] = frozenset("""
le la les du des dans mettez mets mettre pose posez sur avec rouge bleu bleue vert verte jaune noir
blanc cube boîte bac s'il vous plaît plait et un une au aux prenez prends mettez-le
der die das den dem ein eine einen und bitte lege legen sie stell stelle stellen auf rot roten rote
blau blauen blaue grün grünen würfel kiste behälter nimm nehmen
el los las en pon ponga poner coloca coloque rojo roja azul verde amarillo cubo caja por favor y una
del al toma recoge
il lo metti mettere rosso rossa blu giallo cubo scatola nella nel per
o os as coloque ponha vermelho vermelha azul caixa na no
""".split()) - frozenset({"a", "in", "on", "die", "can", "be"})

#: canonical task names, re-exported for the parser
ALL_TASKS: tuple[str, ...] = TASKS
