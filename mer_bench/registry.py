"""A generic name -> object registry with lazy entries and "did you mean" suggestions.

Entries are either objects or "package.module:attribute" strings resolved on first use, so the core
can list what exists without importing model or reselection code. Plugin packages (`baselines`,
`gamdss`, third parties) declare their entries as Python entry points in the group
``mer_bench.<registry kind>``; the core never imports them directly.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterator, TypeVar

from mer_bench.errors import ConfigError, UnknownNameError

T = TypeVar("T")


def _resolve(target: str) -> object:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


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

    def get(self, name: str) -> T:
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
