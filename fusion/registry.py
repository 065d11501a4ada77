"""One registry pattern for every interchangeable algorithm and source.

A :class:`Registry` maps names to implementations (fixation detectors, homography
estimators, JPEG decoders, camera source kinds, tracker specs). An implementation registers
itself where it is defined, with a decorator, so adding one is one declaration beside its
code; the configuration names it; an unknown name is an error that lists the known ones.

>>> SMOOTHERS: Registry[type] = Registry("smoother", key="filter.method")
>>> @SMOOTHERS.register("mean")
... class MeanSmoother: ...
>>> SMOOTHERS["mean"].__name__
'MeanSmoother'
>>> SMOOTHERS["median"]
Traceback (most recent call last):
  ...
gazefusion.fusion.errors.ConfigError: unknown smoother 'median' (filter.method); known: mean

Sources picked from a spec string (a camera URL, a tracker spec) register a `matches`
predicate too; :meth:`Registry.match` returns the first entry, in registration order, whose
predicate accepts the spec (an entry registered with ``fallback=True`` is tried last).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, NamedTuple, TypeVar

from gazefusion.fusion.errors import ConfigError, GazefusionError

T = TypeVar("T")


class Entry(NamedTuple, Generic[T]):
    """One registered implementation.

    Attributes
    ----------
    name : str
        Its name, as the configuration gives it.
    item : T
        The implementation (a class, a function, a constant).
    matches : callable or None
        spec -> whether this entry handles the spec; None for entries picked by name only.
    fallback : bool
        Tried after every other entry by :meth:`Registry.match`.
    help : str
        One line for help texts (a spec's form, what the entry does).
    """

    name: str
    item: T
    matches: Callable[[str], bool] | None
    fallback: bool
    help: str


class Registry(Generic[T]):
    """Names to interchangeable implementations of one thing.

    Parameters
    ----------
    what : str
        What the implementations are, for error messages ("fixation method").
    key : str or None
        The configuration key or flag that names one, for error messages. (default: None)
    error : type of GazefusionError
        The error an unknown name raises. (default: ConfigError)
    """

    def __init__(self, what: str, key: str | None = None, error: type[GazefusionError] = ConfigError) -> None:
        self.what = what
        self.key = key
        self.error = error
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self, name: str, *, matches: Callable[[str], bool] | None = None, fallback: bool = False, help: str = ""
    ) -> Callable[[T], T]:
        """A decorator registering the decorated class or function as `name`.

        Parameters
        ----------
        name : str
            The name; registering a name again replaces the earlier entry.
        matches : callable or None
            spec -> whether this entry opens the spec (for :meth:`match`). (default: None)
        fallback : bool
            Try this entry after every other one in :meth:`match`. (default: False)
        help : str
            One line for help texts; "" for none. (default: "")
        """

        def decorate(item: T) -> T:
            self.add(name, item, matches=matches, fallback=fallback, help=help)
            return item

        return decorate

    def add(
        self,
        name: str,
        item: T,
        *,
        matches: Callable[[str], bool] | None = None,
        fallback: bool = False,
        help: str = "",
    ) -> T:
        """Register `item` as `name` (for values that are not defined with ``def`` or ``class``).

        Parameters
        ----------
        name : str
            Its name, as the configuration gives it.
        item : T
            The implementation.
        matches : callable or None
            spec -> whether this entry handles the spec; None: picked by name only. (default: None)
        fallback : bool
            Tried after every other entry by :meth:`match`. (default: False)
        help : str
            One line for help texts. (default: "")

        Returns
        -------
        T
            `item`.
        """
        self._entries.pop(name, None)
        self._entries[name] = Entry(name, item, matches, fallback, help)
        return item

    def remove(self, name: str) -> None:
        """Forget an entry (nothing happens if there is none).

        Parameters
        ----------
        name : str
            The entry's name.
        """
        self._entries.pop(name, None)

    def __getitem__(self, name: str) -> T:
        entry = self._entries.get(name)
        if entry is None:
            where = f" ({self.key})" if self.key else ""
            raise self.error(f"unknown {self.what} {name!r}{where}; known: {', '.join(self._entries)}")
        return entry.item

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def help(self, name: str) -> str:
        """The help line of an entry (an unknown name raises as :meth:`__getitem__`).

        Parameters
        ----------
        name : str
            The entry's name.
        """
        self[name]
        return self._entries[name].help

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, implementation) pairs, in registration order."""
        return [(entry.name, entry.item) for entry in self._entries.values()]

    def match(self, spec: str) -> Entry[T] | None:
        """The first entry whose `matches` accepts `spec` (fallbacks last), or None.

        Parameters
        ----------
        spec : str
            A spec string (a camera URL, a tracker spec).
        """
        ordered = sorted(self._entries.values(), key=lambda entry: entry.fallback)
        for entry in ordered:
            if entry.matches is not None and entry.matches(spec):
                return entry
        return None
