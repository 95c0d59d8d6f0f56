"""Send events with the plain events client: a batch, a single event, a buffered sender.

Run against a local receiver:
    honeycomb-events serve --port 8086 &
    export HONEYCOMB_API_ENDPOINT=http://127.0.0.1:8086 HONEYCOMB_API_KEY=local
    python examples/send_events.py
"""

from __future__ import annotations

import asyncio
import time

from honeycomb_events import BatchEvent, EventResult, HoneycombClient


def send_sync() -> None:
    with HoneycombClient(sync=True) as client:
        result = client.events.send("example", {"kind": "single", "duration_ms": 3.2})
        print(f"single event: status {result.status}")

        events = [
            BatchEvent({"kind": "batch", "n": n}, time=time.time(), samplerate=1) for n in range(10)
        ]
        results = client.events.send_batch("example", events)
        print(f"batch: {sum(r.ok for r in results)}/{len(results)} accepted")

        # The buffered sender sends from a background thread; on_result sees every result.
        failures: list[EventResult] = []

        def on_result(event: BatchEvent, result: EventResult) -> None:
            if not result.ok:
                failures.append(result)

        with client.events.buffered("example", batch_size=50, on_result=on_result) as sender:
            for n in range(100):
                sender.send({"kind": "buffered", "n": n})
        print(f"buffered: {sender.stats['accepted']} accepted, {len(failures)} failed")


async def send_async() -> None:
    async with HoneycombClient() as client:
        results = await client.events.send_batch_async(
            "example", [{"kind": "async", "n": n} for n in range(5)]
        )
        print(f"async batch: {sum(r.ok for r in results)}/{len(results)} accepted")


if __name__ == "__main__":
    send_sync()
    asyncio.run(send_async())
