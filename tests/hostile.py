"""Hypothesis strategies for hostile and foreign values: what other SDKs send and what real
applications hand the SDK. Shared by the property tests of the mappings, the exporters and
OTLP ingest.

- `any_values`: every Python value an attribute or a log body can hold: nested maps, arrays
  and tuples, bytes, integers at and past the 64-bit edges, NaN and infinities, lone
  surrogates and NUL in keys and values, objects with and without a text of their own or
  whose `str()` raises, values that refer to themselves, and nesting up to 20,000 deep.
- `otlp_values`: what an OTLP ``AnyValue`` can hold (no cycles, valid UTF-8, 64-bit
  integers), as the Python value the receiver decodes, nested up to 10,000 deep.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .reference import Opaque, Raising, Texty

SURROGATES = ("\ud800", "\udbff", "\udc80", "\udfff")
ODD_CHARACTERS = (*SURROGATES, "\x00", "\n", '"', "\\", "\u2028", "é", "😀", ".", "<")
EDGE_INTS = (
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    2**70,
    -(2**70),
)
DEPTHS = (6, 7, 100, 999, 5_000, 10_000, 10_001, 20_000)

characters = st.one_of(st.characters(), st.sampled_from(ODD_CHARACTERS))
texts = st.text(characters, max_size=10)
valid_texts = st.text(
    st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(".é😀\x00")), max_size=10
)
nested_keys = st.one_of(
    texts, st.sampled_from(["", ".", "a.b", "sampleRate", "body", "name"]), st.integers(-3, 3)
)
# Past the 4,300 digits Python writes as text (made in a map: hypothesis shows its strategies).
huge_ints = st.sampled_from([5_000, -5_000]).map(
    lambda digits: 10 ** abs(digits) * (digits // abs(digits))
)
ints = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from(EDGE_INTS), huge_ints)
int64s = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([2**63 - 1, -(2**63)]))
floats = st.floats(allow_nan=True, allow_infinity=True)
long_texts = st.builds(
    lambda char, count: char * count, st.sampled_from("xé€😀"), st.integers(16_000, 70_000)
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    floats,
    texts,
    st.binary(max_size=8),
    st.builds(Opaque),
    st.builds(Raising),
    st.builds(Texty, texts),
)
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(nested_keys, inner, max_size=4),
        st.frozensets(st.one_of(texts, st.integers(-5, 5)), max_size=3),
    ),
    max_leaves=12,
)


def with_cycle(root: Any, choice: int, to_root: bool) -> Any:
    """`root` with one list or dict inside it made to hold `root` (or itself)."""
    found: list[tuple[Any, Any]] = []  # (container, the root's child that holds it)
    pending = [(root, root)]
    while pending:
        container, top = pending.pop()
        if isinstance(container, (list, dict)):
            found.append((container, top))
        items = container.values() if isinstance(container, dict) else container
        if isinstance(container, (list, tuple, dict)):
            pending.extend((item, top) for item in items)
    if not found:
        root = [root]
        found = [(root, root)]
    container, _ = found[choice % len(found)]
    target = root if to_root else container
    if isinstance(container, dict):
        container["loop"] = target
    else:
        container.append(target)
    return root


def deep(depth: int, as_list: bool, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


cyclic = st.builds(
    with_cycle,
    st.one_of(st.lists(trees, max_size=3), st.dictionaries(texts, trees, max_size=3)),
    st.integers(0, 50),
    st.booleans(),
)
deeply_nested = st.builds(deep, st.sampled_from(DEPTHS), st.booleans(), st.one_of(texts, ints))
any_values = st.one_of(trees, trees, trees, cyclic, deeply_nested, long_texts)


def attribute_maps(prefix: str = "", max_size: int = 5) -> st.SearchStrategy[dict[str, Any]]:
    """Attributes of any values; keys start with `prefix`, so that several sources merged
    into one event keep apart (and clear of the fixed fields)."""
    keys = st.one_of(texts, st.sampled_from(["", "a.b", "k"])).map(lambda key: prefix + key)
    return st.dictionaries(keys, any_values, max_size=max_size)


class KvList(list):  # type: ignore[type-arg]
    """An OTLP kvlist: (key, value) pairs in order, keys repeated or not."""


def otlp_deep(depth: int, as_list: bool, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else KvList([("k", value)])
    return value


# What an OTLP AnyValue holds: arrays as lists, kvlists as `KvList`; nothing refers to
# itself, strings are valid UTF-8, integers 64-bit.
otlp_scalars = st.one_of(
    st.none(), st.booleans(), int64s, floats, valid_texts, st.binary(max_size=8)
)
otlp_trees = st.recursive(
    otlp_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        # A kvlist may repeat a key: the later wins, at Honeycomb as here.
        st.lists(
            st.tuples(st.one_of(valid_texts, st.sampled_from(["", "a.b"])), inner), max_size=4
        ).map(KvList),
    ),
    max_leaves=12,
)
otlp_values = st.one_of(
    otlp_trees,
    otlp_trees,
    st.builds(otlp_deep, st.sampled_from((6, 100, 2_000)), st.booleans(), valid_texts),
)
otlp_attribute_lists = st.lists(
    st.tuples(st.one_of(valid_texts, st.sampled_from(["a.b", "k"])), otlp_values), max_size=4
)


def as_python(value: Any) -> Any:
    """An `otlp_values` value as the receiver decodes it: kvlists (lists of pairs) as dicts.
    Iterative, as the values may nest 10,000 deep."""
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while pending:
        item, container, slot = pending.pop()
        if isinstance(item, KvList):
            result: Any = dict.fromkeys(key for key, _ in item)
            pending.extend((sub, result, key) for key, sub in reversed(item))
        elif isinstance(item, list):
            result = [None] * len(item)
            pending.extend((sub, result, index) for index, sub in enumerate(item))
        else:
            result = item
        container[slot] = result
    return root[0]
