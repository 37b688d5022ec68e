"""Process-wide objects made on first use, once, whichever thread asks first: the OPSIN JVM, the
reference table, the rule-based workers. One lock for the making; each object guards its own use."""
from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def process_wide(factory: Callable[..., T]) -> Callable[..., T]:
    """Decorator: the first call with given arguments (defaults filled in, so f() and f("default")
    are one) makes the object; every later call returns that same object."""
    signature = inspect.signature(factory)
    lock = threading.Lock()
    made: dict = {}

    @functools.wraps(factory)
    def get(*args, **kwargs) -> T:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        key = tuple(bound.arguments.items())
        with lock:
            if key not in made:
                made[key] = factory(*bound.args, **bound.kwargs)
            return made[key]

    return get
