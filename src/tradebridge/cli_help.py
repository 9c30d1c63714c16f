"""How `--help` shows options: a flag without a value type.

typer (0.2x) prints the type of every option beside it, `--json <bool>` included, as if a
flag took a value; `--json true` is an error. A flag's row shows no type here.
"""

from typing import Any

from typer.core import TyperOption

_typed_display = TyperOption.display_type_rich


def _display_type(self: TyperOption, ctx: Any) -> str | None:
    return None if self.is_flag else _typed_display(self, ctx)


def show_flags_without_type() -> None:
    TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
