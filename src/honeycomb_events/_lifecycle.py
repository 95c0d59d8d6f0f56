"""`with` and `async with` support for anything that has `close()` and `aclose()`."""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

_Self = TypeVar("_Self", bound="Closeable")


class Closeable:
    """Mixin: ``with x:`` calls `close()`, ``async with x:`` awaits `aclose()`."""

    def close(self) -> Any:
        raise NotImplementedError

    async def aclose(self) -> Any:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
