"""Rules an operator sets without code: ``HONEYCOMB_REDACT_FIELDS`` and ``HONEYCOMB_DROP_EVENTS``.

The grammar (docs/presend.md): rules are separated by commas; a backslash makes the next
``,``, ``=``, ``*`` or ``\\`` literal; white space around a rule, a name or a value is not part
of it. A redaction rule is a field-name pattern; a drop rule is ``field=value``, split at its
first ``=``, with ``*`` a wildcard in the value only. Field names match whatever their case,
values as written. A malformed rule is a `ConfigurationError` naming the variable and the
rule's position, never its text: a key pasted into the wrong variable stays unsaid.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from ._config import ENV_DROP_EVENTS, ENV_REDACT_FIELDS
from ._encodable import text_of
from ._errors import ConfigurationError
from ._limits import non_finite_text

REDACTED: Final = "REDACTED"
"""What a redacted field's value becomes."""

_ESCAPABLE: Final = frozenset(",=*\\")
_MAX_PLANS: Final = 4096
"""Field names whose rules are remembered: events of a program repeat a few hundred names;
past this many (names made of data, say) the memory starts again."""

_Token = tuple[str, bool]  # a character, and whether it is literal (escaped)
_JSON: Final = msgspec.json.Encoder(enc_hook=str)


def text_form(value: Any) -> str:
    """The text a drop rule compares with: a string as it is, ``true``/``false``, a number as
    Python writes it (``200``, ``0.5``; NaN and infinities as Honeycomb gets them), anything
    else its JSON."""
    cls = type(value)
    if cls is str:
        return value  # type: ignore[no-any-return]
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return str(value)
    if cls is float:
        return repr(value) if math.isfinite(value) else non_finite_text(value)
    if isinstance(value, str):
        return str.__str__(value)
    return _JSON.encode(value).decode()


@dataclass(frozen=True, slots=True)
class _Pattern:
    """Text to match whole: exactly, or with wildcards through `regex`."""

    exact: str
    regex: re.Pattern[str] | None

    @classmethod
    def of(cls, tokens: list[_Token]) -> _Pattern:
        text = "".join(character for character, _ in tokens)
        if ("*", False) not in tokens:
            return cls(text, None)
        return cls(text, re.compile(_regex_text(tokens), re.DOTALL))

    def matches(self, text: str) -> bool:
        if self.regex is None:
            return text == self.exact
        return self.regex.fullmatch(text) is not None


def _regex_text(tokens: list[_Token]) -> str:
    return "".join(
        ".*" if character == "*" and not literal else re.escape(character)
        for character, literal in tokens
    )


@dataclass(frozen=True, slots=True)
class _Condition:
    """``field=value`` of a drop rule: `name` casefolded."""

    name: str
    value: _Pattern

    def matches(self, value: Any) -> bool:
        try:
            return self.value.matches(text_form(value))
        except Exception:  # a value without a text (its str() raises) matches nothing
            return False


_Plan = tuple[bool, tuple[_Condition, ...]]  # a field name's rules: redact it? drop when?
_NOTHING: Final[_Plan] = (False, ())


class Rules:
    """The rules of both variables, applied to an event's fields by `apply`. Safe to share
    across threads: what is remembered of each name is only ever added to, or emptied (a
    name then looked up again)."""

    def __init__(self, redact: list[str], drop: list[_Condition]) -> None:
        """`redact`: the regular expressions of the redaction rules; `drop`: the conditions."""
        self._redact = (
            re.compile("|".join(f"(?:{regex})" for regex in redact), re.IGNORECASE | re.DOTALL)
            if redact
            else None
        )
        self._drop = tuple(drop)
        self._plans: dict[str, _Plan] = {}
        self._unruled: set[str] = set()
        """Names no rule concerns: most of an event's, skipped in one set operation."""

    def apply(self, data: Mapping[Any, Any]) -> tuple[Mapping[Any, Any] | None, int]:
        """`data` with its redacted fields (a copy, made only when one is), and how many were
        redacted; None when a drop rule matches. Drop rules see the values before redaction.
        A field whose value is None is not sent, and no rule sees it."""
        unruled = self._unruled
        if data.keys() <= unruled:  # the usual event: one pass in C
            return data, 0
        plans = self._plans
        redacted: list[Any] = []
        for key in data.keys() - unruled:
            value = data[key]
            if value is None:
                continue
            plan = plans.get(key) or self._plan(key)
            redacts, conditions = plan
            for condition in conditions:
                if condition.matches(value):
                    return None, 0
            if redacts:
                redacted.append(key)
        if not redacted:
            return data, 0
        changed = dict(data)
        for key in redacted:
            changed[key] = REDACTED
        return changed, len(redacted)

    def _plan(self, key: Any) -> _Plan:
        """What the rules say of the field `key`, remembered for a string key."""
        try:
            name = key if type(key) is str else text_of(key)
        except Exception:  # a key without a text is sent without one: no rule names it
            return _NOTHING
        folded = name.casefold()
        redacts = self._redact is not None and self._redact.fullmatch(name) is not None
        conditions = tuple(condition for condition in self._drop if condition.name == folded)
        if type(key) is str:
            if len(self._plans) + len(self._unruled) >= _MAX_PLANS:
                self._plans.clear()
                self._unruled.clear()
            if redacts or conditions:
                self._plans[key] = (redacts, conditions)
            else:
                self._unruled.add(key)
        return (redacts, conditions)


def rules_from_environment(environ: Mapping[str, str] | None = None) -> Rules | None:
    """The rules ``HONEYCOMB_REDACT_FIELDS`` and ``HONEYCOMB_DROP_EVENTS`` set, or None when
    neither is set (blank counts as not set). Raises `ConfigurationError` for a malformed rule."""
    env = os.environ if environ is None else environ
    redact_text = env.get(ENV_REDACT_FIELDS, "").strip()
    drop_text = env.get(ENV_DROP_EVENTS, "").strip()
    if not redact_text and not drop_text:
        return None
    redact = [
        _redaction(tokens, position, count)
        for position, count, tokens in _rules(redact_text, ENV_REDACT_FIELDS)
    ]
    drop = [
        _condition(tokens, position, count)
        for position, count, tokens in _rules(drop_text, ENV_DROP_EVENTS)
    ]
    return Rules(redact, drop)


def _malformed(variable: str, position: int, count: int, problem: str) -> ConfigurationError:
    return ConfigurationError(f"{variable}: rule {position} of {count} {problem}")


def _rules(text: str, variable: str) -> list[tuple[int, int, list[_Token]]]:
    """Each rule of `text` as its characters, white space around it removed, with its
    position and the count of rules."""
    if not text:
        return []
    rules: list[list[_Token]] = [[]]
    characters = iter(text)
    for character in characters:
        if character == "\\":
            escaped = next(characters, None)
            if escaped is None or escaped not in _ESCAPABLE:
                raise ConfigurationError(
                    f"{variable}: rule {len(rules)} has a backslash before something other "
                    "than , = * or \\ (write \\\\ for a backslash)"
                )
            rules[-1].append((escaped, True))
        elif character == ",":
            rules.append([])
        else:
            rules[-1].append((character, False))
    count = len(rules)
    stripped = [(position, count, _strip(tokens)) for position, tokens in enumerate(rules, 1)]
    for position, _, tokens in stripped:
        if not tokens:
            raise ConfigurationError(
                f"{variable}: rule {position} of {count} is empty (two commas in a row, or one "
                "at either end); rules are separated by commas, such as "
                + ("*token*,url.full" if variable == ENV_REDACT_FIELDS else "a=1,b=2")
            )
    return stripped


def _strip(tokens: list[_Token]) -> list[_Token]:
    """`tokens` without the white space at either end (escaped characters are never any)."""
    start, end = 0, len(tokens)
    while start < end and not tokens[start][1] and tokens[start][0].isspace():
        start += 1
    while end > start and not tokens[end - 1][1] and tokens[end - 1][0].isspace():
        end -= 1
    return tokens[start:end]


def _redaction(tokens: list[_Token], position: int, count: int) -> str:
    """The regular expression of a redaction rule."""
    if ("=", False) in tokens:
        raise _malformed(
            ENV_REDACT_FIELDS,
            position,
            count,
            "has an '=': this variable lists field names, such as "
            "http.request.header.authorization,*token* (conditions for dropping events go in "
            f"{ENV_DROP_EVENTS}; write \\= for a literal one)",
        )
    return _regex_text(tokens)


def _condition(tokens: list[_Token], position: int, count: int) -> _Condition:
    if ("=", False) not in tokens:
        raise _malformed(
            ENV_DROP_EVENTS,
            position,
            count,
            "has no '=': each rule is field=value, such as http.route=/health",
        )
    split = tokens.index(("=", False))
    name, value = _strip(tokens[:split]), _strip(tokens[split + 1 :])
    if not name:
        raise _malformed(ENV_DROP_EVENTS, position, count, "has no field name before its '='")
    if ("*", False) in name:
        raise _malformed(
            ENV_DROP_EVENTS,
            position,
            count,
            "has a '*' in its field name: '*' is a wildcard in values only (write \\* for a "
            "literal one)",
        )
    return _Condition("".join(character for character, _ in name).casefold(), _Pattern.of(value))
