"""One generic name -> object registry, used by every extension point.

Each extension point (converters, verifiers, edge builders, ...) owns one :class:`Registry`
instance; implementations register themselves on import with ``@REGISTRY.register("name")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_")


class Registry(Generic[T]):
    """A named table of implementations with helpful errors.

    Args:
        kind: what is registered (used in error messages, e.g. ``"verifier"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator registering an object under ``name`` (and optional aliases).

        Raises:
            ValueError: if a name is already taken by another object (both are named).
        """

        def deco(obj: T) -> T:
            for key in (name, *aliases):
                self.add(key, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        key = _normalise(name)
        old = self._items.get(key)
        if old is not None and old is not obj:
            raise ValueError(f"{self.kind} name {name!r} is already registered to {old!r}; cannot register {obj!r}")
        self._items[key] = obj

    def get(self, name: str) -> T:
        """Return the object registered as ``name``.

        Raises:
            KeyError: naming the unknown name and listing every registered one.
        """
        key = _normalise(name)
        if key not in self._items:
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {', '.join(sorted(self._items)) or '(none)'}")
        return self._items[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalise(name) in self._items

    def names(self) -> list[str]:
        return sorted(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"Registry(kind={self.kind!r}, names={self.names()})"
