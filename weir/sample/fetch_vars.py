"""`var(NAME)` and the `set-var(NAME)`/`unset-var(NAME)` converters (weir.sample.vars)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weir.sample.core import ANY, SampleError, converter, fetch
from weir.sample.vars import check_var_name, get_var, set_var, unset_var
from weir.stream import Stream


def _name(args: list[str]) -> str:
    try:
        return check_var_name(args[0].strip())
    except SampleError:
        raise
    except IndexError:
        raise SampleError("expects a variable name") from None


@fetch("var", ANY, args=(1, 1), doc="a variable's value")
def _var(args: list[str]) -> Callable[[Stream], Any]:
    name = _name(args)
    return lambda s: get_var(s, name)


@converter("set-var", ANY, ANY, args=(1, 1))
def _set_var(args: list[str]) -> Callable[[Any, Stream], Any]:
    name = _name(args)

    def conv(v: Any, s: Stream) -> Any:
        set_var(s, name, v)
        return v

    return conv


@converter("unset-var", ANY, ANY, args=(1, 1))
def _unset_var(args: list[str]) -> Callable[[Any, Stream], Any]:
    name = _name(args)

    def conv(v: Any, s: Stream) -> Any:
        unset_var(s, name)
        return v

    return conv
