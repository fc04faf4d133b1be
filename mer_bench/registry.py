"""A generic name -> object registry with lazy entries, options and "did you mean" suggestions.

Entries are either objects or "package.module:attribute" strings resolved on first use, so the core
can list what exists without importing model or reselection code. Plugin packages (`baselines`,
`gamdss`, third parties) declare their entries as Python entry points in the group
``mer_bench.<registry kind>``; the core never imports them directly.

Wherever a registered thing is named, options may follow in brackets: ``gamdss[distance=flow,
window_fraction=0.2]``, ``ststnet[epochs=5]``. They are parsed here and nowhere else: an entry that
is a factory (a class or function) gets them as keyword arguments, an entry object with a
``with_options(**options)`` method (a model spec) returns its configured copy. Option names are
checked against the factory's signature, values against its type hints where it has them.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib
import inspect
import re
import types
import typing
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, Iterator, Literal, TypeVar

from mer_bench.errors import ConfigError, UnknownNameError

T = TypeVar("T")


def _resolve(target: str) -> object:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


_SPEC = re.compile(r"\s*([\w.:/+-]+)\s*(?:\[(.*)\])?\s*")


def parse_spec(spec: str, kind: str = "name") -> tuple[str, dict[str, object]]:
    """``"name[key=value,...]"`` -> (name, options); values read as bool, int, float or text.

    >>> parse_spec("gamdss[distance=flow, window_fraction=0.2]")
    ('gamdss', {'distance': 'flow', 'window_fraction': 0.2})
    """
    match = _SPEC.fullmatch(spec) if isinstance(spec, str) else None
    if match is None:
        raise ConfigError(f"{kind} {spec!r}: write NAME or NAME[key=value,...]")
    name, text = match.group(1), match.group(2)
    options: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key.isidentifier():
            raise ConfigError(f"{kind} {spec!r}: option {item!r} is not key=value")
        if key in options:
            raise ConfigError(f"{kind} {spec!r}: option {key!r} is given twice; keep one")
        options[key] = _option_value(value)
    return name, options


def _option_value(text: str) -> object:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def format_spec(name: str, options: dict[str, object]) -> str:
    """The canonical text of a spec: options sorted by name, values as `parse_spec` reads them."""
    if not options:
        return name
    def text(value: object) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)
    return f"{name}[{','.join(f'{key}={text(options[key])}' for key in sorted(options))}]"


def _options_target(value: object) -> Callable[..., Any] | None:
    """What options are passed to: a ``with_options`` method, else the entry itself if callable."""
    method = getattr(value, "with_options", None)
    if callable(method):
        return method
    return value if callable(value) else None


def _parameters(target: Callable[..., Any]) -> tuple[dict[str, inspect.Parameter], bool]:
    """Keyword parameters of ``target`` and whether it takes any keyword (``**kwargs``)."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return {}, True
    # ``name`` is the registry's to give, never an option
    keyword = {name: p for name, p in signature.parameters.items()
               if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "name"}
    return keyword, any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())


def _type_hints(target: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable forward references: the factory checks its own values
        return {}


def _check_type(where: str, key: str, value: object, hint: Any) -> None:
    """A one-line ConfigError when ``value`` cannot be the declared type (simple types only)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {key}={value} is not allowed; use one of "
                              f"{', '.join(map(str, args))}")
        return
    if origin in (typing.Union, types.UnionType):
        if value is None or any(_fits(value, arg) for arg in args if arg is not type(None)):
            return
        hint = next((arg for arg in args if arg is not type(None)), hint)
    if hint in (bool, int, float, str) and not _fits(value, hint):
        wanted = {bool: "true or false", int: "a whole number", float: "a number",
                  str: "text"}[hint]
        raise ConfigError(f"{where}: {key}={value} is not {wanted}")


def _fits(value: object, hint: Any) -> bool:
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (bool, str):
        return isinstance(value, hint)
    return True  # a type this check does not know: the factory checks it


class Registry(Generic[T]):
    """Named entries of one kind (datasets, protocols, models, keyframe strategies, executors)."""

    def __init__(self, kind: str, *, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._families: dict[str, Callable[[str], T] | str] = {}
        self._resolved: dict[str, T] = {}
        self._entry_point_group = entry_point_group
        self._entry_points_loaded = entry_point_group is None

    def register(self, name: str, obj: T | str | None = None) -> Callable[[T], T] | None:
        """Register ``obj`` (or a lazy "module:attr" string) under ``name``; usable as decorator."""
        if obj is None:
            def decorator(target: T) -> T:
                self._add(name, target)
                return target

            return decorator
        self._add(name, obj)
        return None

    def _add(self, name: str, obj: T | str) -> None:
        if name in self._entries and self._entries[name] is not obj:
            raise ConfigError(f"{self.kind} {name!r} is registered twice; rename one of them")
        self._entries[name] = obj

    def register_family(self, prefix: str, factory: Callable[[str], T] | str) -> None:
        """Entries made on demand: ``get(prefix + rest)`` returns ``factory(rest)``.

        For open-ended families such as ``timm:<any timm model>``; the factory raises
        UnknownNameError for a ``rest`` it cannot build.
        """
        if prefix in self._families:
            raise ConfigError(f"{self.kind} family {prefix!r} is registered twice")
        self._families[prefix] = factory

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self._entry_point_group):
            if ep.name not in self._entries:
                self._entries[ep.name] = ep.value

    def names(self, pattern: str = "*") -> list[str]:
        self._load_entry_points()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, spec: str) -> T:
        """The entry named by ``spec``; ``name[key=value,...]`` applies options (see module doc).

        A factory entry with options comes back as a factory with the options bound.
        """
        if isinstance(spec, str) and "[" in spec:
            name, options = parse_spec(spec, self.kind)
            return self._configure(spec, name, self._get_name(name), options)
        return self._get_name(spec)

    def create(self, spec: str) -> Any:
        """Call the factory ``spec`` names, options applied: an instance (e.g. a strategy)."""
        factory = self.get(spec)
        try:
            return factory()
        except TypeError as error:
            raise ConfigError(f"{self.kind} {spec!r}: {error}") from None

    def canonical(self, spec: str) -> str:
        """One text per configuration: options sorted, those equal to their default dropped.

        ``gamdss[window_fraction=0.1, distance=flow]`` -> ``gamdss[distance=flow]``. Raises the
        same errors as `get` for unknown names or options.
        """
        name, options = parse_spec(spec, self.kind)
        value = self._get_name(name)
        if not options:
            return name
        self._configure(spec, name, value, options)
        parameters, _ = _parameters(_options_target(value))
        def is_default(key: str, option: object) -> bool:
            default = parameters[key].default if key in parameters else inspect.Parameter.empty
            return type(default) is type(option) and default == option

        kept = {key: option for key, option in options.items() if not is_default(key, option)}
        return format_spec(name, kept)

    def option_names(self, name: str) -> list[str]:
        """The options ``name`` takes (empty if none, or if it takes any keyword)."""
        target = _options_target(self._get_name(name))
        return sorted(_parameters(target)[0]) if target is not None else []

    def _configure(self, spec: str, name: str, value: T, options: dict[str, object]) -> T:
        where = f"{self.kind} {spec!r}"
        if not options:
            return value
        target = _options_target(value)
        if target is None:
            raise ConfigError(f"{where}: {name} takes no options; write {name}")
        parameters, any_keyword = _parameters(target)
        unknown = [key for key in options if key not in parameters]
        if unknown and not any_keyword:
            close = difflib.get_close_matches(unknown[0], list(parameters), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            valid = ", ".join(sorted(parameters)) or "none"
            raise ConfigError(f"{where}: unknown option {unknown[0]!r}{hint}; {name} takes: {valid}")
        hints = _type_hints(target)
        for key, option in options.items():
            if key in hints:
                _check_type(where, key, option, hints[key])
        if target is not value:  # an object's with_options: its configured copy
            return target(**options)
        return functools.partial(value, **options)  # type: ignore[return-value]

    def _get_name(self, name: str) -> T:
        self._load_entry_points()
        if name in self._resolved:
            return self._resolved[name]
        if name in self._entries:
            entry = self._entries[name]
            value = _resolve(entry) if isinstance(entry, str) else entry
        else:
            family = next((p for p in self._families if name.startswith(p)), None)
            if family is None:
                raise UnknownNameError(self.unknown_message(name))
            factory = self._families[family]
            if isinstance(factory, str):
                factory = self._families[family] = _resolve(factory)
            value = factory(name[len(family):])
        self._resolved[name] = value
        return value

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        families = "".join(f", {prefix}<name>" for prefix in sorted(self._families))
        known = ", ".join(self.names()) or "none"
        return f"unknown {self.kind} {name!r}{hint} (known: {known}{families})"
