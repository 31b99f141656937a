"""Command-line options declared once, on the typed config dataclass, and argparse derived from it.

A verb's options used to be written twice: ``p.add_argument("--lr", ...)`` in the CLI module, then
``TrainConfig(lr=args.lr, ...)`` field by field. Here each option is a dataclass field made with
:func:`option` (flag, help, metavar, choices live in the field's metadata);
:func:`add_arguments` builds the argparse options from the fields and :func:`from_namespace` turns
the parsed namespace straight into the config, the way LeRobot parses its command line into its
config dataclasses (draccus).

Why a small standard-library helper and not tyro, simple-parsing or draccus (all three install from
the package index here, checked with ``pip download --no-deps``): the existing command lines must
keep working byte for byte (docs/architecture.md, "Command line"), and each library has its own
conventions that would change them or need per-field overrides that are as long as this module:

* the verbs are subparsers of one ``argparse`` tree (``cli/main.py`` calls each verb's
  ``add_arguments(p)``); tyro and draccus build and run their own parser;
* nested dataclasses become dotted flags there (``--train.lr``), while ``distill`` keeps
  ``--lr``, ``--student-config`` and ``--steps-per-iter`` for fields of the ``TrainConfig`` it holds;
* booleans default to ``--flag/--no-flag`` pairs there, where ``distill`` has ``--no-export`` only;
* values such as ``--tasks Reach,Stack`` are checked when the verb runs (a ``ValueError`` the CLI
  prints as one line), not at parse time;
* one more dependency (draccus alone pulls pyyaml, toml, mergedeep, typing-inspect) for about 150
  lines of argparse glue.

A field is a command-line option only when it was made with :func:`option` (``grad_clip`` and
``min_lr_ratio`` are settings without a flag). A field holding another config (``DistillConfig``
holds the ``TrainConfig`` its student trains with) is declared with :func:`nested`, which names the
inner options the outer verb exposes and how (a flag of its own, its own default or help): one
flat option name per exposed field, the name :func:`to_flat` and :func:`from_flat` use too.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from types import NoneType, UnionType
from typing import Any, TypeVar

C = TypeVar("C")

_KEY = "jafm_option"  # the field-metadata key an option's declaration lives under
_NESTED = "jafm_nested"


def option(default: Any = MISSING, *, default_factory: Callable[[], Any] | Any = MISSING, help: str | None = None,
           flag: str | None = None, metavar: str | None = None, choices: list[str] | None = None,
           required: bool = False, convert: Callable[[Any], Any] | None = None, text_default: str | None = None) -> Any:
    """A dataclass field that is also a command-line option.

    ``flag`` defaults to ``--`` plus the field name with dashes. A ``bool`` field is a switch:
    ``store_true`` when it defaults to False, ``store_false`` under a ``--no-...`` flag when True.
    ``convert`` turns the parsed text into the field's value when the config is built (so a bad
    value is a ``ValueError`` from the verb, not an argparse usage error); ``text_default`` is then
    the text the namespace holds when the option is not given.
    """
    spec = {"help": help, "flag": flag, "metavar": metavar, "choices": choices, "required": required,
            "convert": convert, "text_default": text_default}
    return field(default=default, default_factory=default_factory, metadata={_KEY: spec})


def nested(default_factory: Callable[[], Any], expose: Mapping[str, Mapping[str, Any]]) -> Any:
    """A field holding another config dataclass; ``expose`` maps each of its fields the outer config
    sets to overrides of that field's declaration: ``name`` (the flat option name, hence the flag
    and the namespace attribute), ``default``, ``help``, ``flag``, ``choices``, ``required``, and
    ``cli=False`` for a setting the outer config fixes without a flag."""
    return field(default_factory=default_factory, metadata={_NESTED: {k: dict(v) for k, v in expose.items()}})


@dataclass(frozen=True)
class _Option:
    """One flat option: where it lives in the config (``path``) and how argparse presents it."""

    name: str
    path: tuple[str, ...]
    type: Any
    default: Any
    spec: dict[str, Any]
    cli: bool


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _base_type(tp: Any) -> Any:
    """``int | None`` -> ``int``; other types as they are."""
    if isinstance(tp, UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not NoneType]
        return args[0] if len(args) == 1 else str
    return tp


def _options(cls: type) -> Iterator[_Option]:
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if _NESTED in f.metadata:
            inner_cls = hints[f.name]
            inner_hints = typing.get_type_hints(inner_cls)
            inner_fields = {g.name: g for g in fields(inner_cls)}
            for inner, over in f.metadata[_NESTED].items():
                g = inner_fields[inner]
                spec = {**g.metadata.get(_KEY, {}), **{k: v for k, v in over.items() if k not in ("name", "default", "cli")}}
                default = over["default"] if "default" in over else _field_default(g)
                yield _Option(over.get("name", inner), (f.name, inner), inner_hints[inner], default, spec,
                              bool(over.get("cli", _KEY in g.metadata)))
        else:
            yield _Option(f.name, (f.name,), hints[f.name], _field_default(f), dict(f.metadata.get(_KEY, {})),
                          _KEY in f.metadata)


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One argparse option per :func:`option` field of ``cls`` (and per exposed nested field)."""
    for o in _options(cls):
        if not o.cli:
            continue
        s = o.spec
        flag = s.get("flag") or "--" + o.name.replace("_", "-")
        kw: dict[str, Any] = {"dest": o.name, "help": s.get("help")}
        if s.get("required"):
            kw["required"] = True
        if o.type is bool:
            kw["action"] = "store_false" if o.default else "store_true"
        else:
            if not s.get("required"):
                kw["default"] = s["text_default"] if s.get("text_default") is not None else (
                    None if o.default is MISSING else o.default)
            if s.get("convert") is None and _base_type(o.type) is not str:  # text stays text
                kw["type"] = _base_type(o.type)
            for k in ("metavar", "choices"):
                if s.get(k) is not None:
                    kw[k] = s[k]
            if s.get("flag") and s.get("metavar") is None and s.get("choices") is None:  # --lang LANG, not LANGUAGES
                kw["metavar"] = flag.lstrip("-").replace("-", "_").upper()
        parser.add_argument(flag, **kw)


def from_flat(cls: type[C], values: Mapping[str, Any], *, convert: bool = False) -> C:
    """The config from flat option values (the :func:`to_flat` names); what is absent keeps its
    default, a nested config gets the outer config's defaults for what it exposes. ``convert``
    applies each option's ``convert`` (for text from the command line)."""
    opts = list(_options(cls))
    unknown = set(values) - {o.name for o in opts}
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown option(s) {', '.join(sorted(unknown))}")
    top: dict[str, Any] = {}
    inner: dict[str, dict[str, Any]] = {}
    for o in opts:
        if o.name in values:
            v = values[o.name]
            if convert and o.spec.get("convert") is not None and v is not None:
                v = o.spec["convert"](v)
        elif len(o.path) == 2 and o.default is not MISSING:
            v = o.default
        else:
            continue
        if len(o.path) == 1:
            top[o.path[0]] = v
        else:
            inner.setdefault(o.path[0], {})[o.path[1]] = v
    hints = typing.get_type_hints(cls)
    for name, kw in inner.items():
        top[name] = hints[name](**kw)
    return cls(**top)


def from_namespace(cls: type[C], ns: argparse.Namespace) -> C:
    """The config from a namespace :func:`add_arguments` parsed (other attributes, like ``json`` or
    the verb's ``_run``, are not the config's and are left out)."""
    names = {o.name for o in _options(cls) if o.cli}
    return from_flat(cls, {k: v for k, v in vars(ns).items() if k in names}, convert=True)


def to_flat(cfg: Any) -> dict[str, Any]:
    """Every option of ``cfg`` under its flat name, nested ones included: a JSON-ready record of a
    run that :func:`from_flat` reads back (a nested config's unexposed fields are left out)."""
    out: dict[str, Any] = {}
    for o in _options(type(cfg)):
        v: Any = cfg
        for part in o.path:
            v = getattr(v, part)
        out[o.name] = dataclasses.asdict(v) if is_dataclass(v) else v
    return out


__all__ = ["add_arguments", "from_flat", "from_namespace", "nested", "option", "to_flat"]
