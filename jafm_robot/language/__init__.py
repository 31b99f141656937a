"""Instruction understanding: free Japanese/English requests -> a structured, grounded goal.

The public API, re-exported here:

* :func:`understand` (text -> :class:`Understanding`: goal + confidence, or a refusal with a reason
  and a code) and :func:`canonical` (goal -> the env template the network was trained on), from
  :mod:`.understanding`;
* :class:`Goal`, :class:`Part` and :func:`fill` (hand-written template + goal -> text), from :mod:`.goal`;
* :func:`generate` / :func:`all_phrasings` (goal -> many paraphrases), from :mod:`.generator`.

The templates and slot words the policies learned live in :mod:`.templates` (re-exported by
``jafm_robot.envs.instructions``); the lexicon in :mod:`.vocabulary`.
"""

from jafm_robot.language.generator import all_phrasings, generate
from jafm_robot.language.goal import Goal, Part, fill
from jafm_robot.language.understanding import Understanding, canonical, understand

__all__ = ["Goal", "Part", "Understanding", "all_phrasings", "canonical", "fill", "generate", "understand"]
