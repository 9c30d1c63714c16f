"""Schemas of the answers, generated from the msgspec types the routes encode.

Responses are encoded by msgspec straight from domain structs (`api.encoding`), so their
schemas come from the same types rather than from a second, hand-kept set of models. Two
things differ between msgspec's schemas, which describe what it would decode, and what it
sends: a `Decimal` is sent as a JSON number (msgspec's schema says string), every field of a
struct is sent, defaults included, unless the struct omits defaults or the field is left
`UNSET`, and times are sent as RFC 3339 date-times with their offset.
"""

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi

REF = "#/components/schemas/{name}"

_types: list[Any] = []


def returns(tp: Any, status: int = 200, description: str = "OK") -> dict[int | str, Any]:
    """`responses=` for a route whose body is `tp` (a struct or `list[struct]`)."""
    _types.append(tp)
    (schema,), _ = msgspec.json.schema_components([tp], ref_template=REF)
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": as_sent(schema)}},
        }
    }


def components(extra: Iterable[Any] = ()) -> dict[str, Any]:
    """The component schemas of every type given to `returns`, and of `extra`."""
    types = [*_types, *extra]
    _, found = msgspec.json.schema_components(types, ref_template=REF)
    for struct in _structs(types):
        schema = found.get(struct.cls.__name__)
        if schema is not None and schema.get("title") == struct.cls.__name__:
            schema["required"] = _always_sent(struct)
            for field in struct.fields:
                if _is_time(field.type):
                    _as_time(schema["properties"][field.encode_name])
    return {name: as_sent(schema) for name, schema in found.items()}


def as_sent(schema: Any) -> Any:
    """`schema` with each decimal declared as the JSON number it is sent as."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and schema.get("format") == "decimal":
            return {**schema, "type": "number"}
        return {key: as_sent(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [as_sent(item) for item in schema]
    return schema


def _is_time(tp: mi.Type) -> bool:
    if isinstance(tp, mi.Metadata):  # a described field
        return _is_time(tp.type)
    if isinstance(tp, mi.UnionType):
        return any(isinstance(t, mi.DateTimeType) for t in tp.types)
    return isinstance(tp, mi.DateTimeType)


def _as_time(schema: dict[str, Any]) -> None:
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch["format"] = "date-time"


def _always_sent(struct: mi.StructType) -> list[str]:
    """Fields without a default, and those with one unless the struct omits defaults; a field
    that may be `UNSET` shows as one that is not required and has no default."""
    omits_defaults = struct.cls.__struct_config__.omit_defaults
    return [
        field.encode_name
        for field in struct.fields
        if field.required or (_has_default(field) and not omits_defaults)
    ]


def _has_default(field: mi.Field) -> bool:
    return field.default is not msgspec.NODEFAULT or field.default_factory is not msgspec.NODEFAULT


def _structs(types: list[Any]) -> Iterator[mi.StructType]:
    """Every struct type reachable from `types`, once each."""
    seen: set[type] = set()
    pending: list[Any] = list(mi.multi_type_info(types))
    while pending:
        node = pending.pop()
        if isinstance(node, mi.StructType):
            if node.cls in seen:
                continue
            seen.add(node.cls)
            yield node
            pending.extend(field.type for field in node.fields)
        elif isinstance(node, mi.Type):
            for name in node.__struct_fields__:
                value = getattr(node, name)
                if isinstance(value, mi.Type):
                    pending.append(value)
                elif isinstance(value, tuple):
                    pending.extend(v for v in value if isinstance(v, mi.Type))
