"""The settings with a fixed set of values: how events are serialized and bodies compressed.

They sit below both the configuration that reads them (`_config`) and the encoder that acts on
them (`_encode`), so that neither imports the other.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from ._errors import ConfigurationError

_C = TypeVar("_C", bound="_Choice")


class _Choice(enum.Enum):
    """A setting with a fixed set of values, read from an argument or a variable."""

    @classmethod
    def from_str(cls: type[_C], value: str, source: str) -> _C:
        try:
            return cls(value.strip().lower())
        except ValueError:
            accepted = ", ".join(member.value for member in cls)
            raise ConfigurationError(f"{source} must be one of {accepted}, not {value!r}") from None


class Encoding(_Choice):
    """How events are serialized in a batch body."""

    JSON = "json"
    MSGPACK = "msgpack"

    @classmethod
    def default(cls) -> Encoding:
        return cls.JSON

    @property
    def content_type(self) -> str:
        return "application/json" if self is Encoding.JSON else "application/msgpack"


class Compression(_Choice):
    """How request bodies are compressed (`Content-Encoding`)."""

    ZSTD = "zstd"
    GZIP = "gzip"
    NONE = "none"

    @classmethod
    def default(cls) -> Compression:
        return cls.ZSTD
