"""Send events from asyncio code with the events client: one event, a batch, concurrent batches.

Settings come from the environment:

    export HONEYCOMB_API_KEY=...             # an ingest key of your environment
    python examples/send_events_async.py

Without an account, run `honeycomb-events serve --port 8086` and also set
HONEYCOMB_API_ENDPOINT=http://127.0.0.1:8086 (any key is accepted).
"""

from __future__ import annotations

import asyncio
import datetime as dt

from honeycomb_events import BatchEvent, HoneycombClient

DATASET = "example-async"


async def main() -> None:
    # `async with` closes the client's connections on this event loop at the end.
    async with HoneycombClient() as client:
        # One event, one request (POST /1/events/<dataset>): for low volumes.
        result = await client.events.send_async(DATASET, {"kind": "single", "duration_ms": 3.2})
        print(f"async single event: status {result.status}")

        # A batch (POST /1/batch/<dataset>): one result per event, in order. Failures never
        # raise: look at result.ok, result.status and result.error.
        now = dt.datetime.now(dt.timezone.utc)
        events = [
            BatchEvent({"kind": "batch", "n": n}, time=now - dt.timedelta(seconds=n))
            for n in range(10)
        ]
        results = await client.events.send_batch_async(DATASET, events)
        print(f"async batch: {sum(r.ok for r in results)}/{len(results)} accepted")

        # Several batches at once, on one client: plain mappings become BatchEvents.
        batches = [
            [{"kind": "concurrent", "worker": w, "n": n} for n in range(5)] for w in range(3)
        ]
        all_results = await asyncio.gather(
            *(client.events.send_batch_async(DATASET, batch) for batch in batches)
        )
        accepted = sum(r.ok for group in all_results for r in group)
        print(f"async concurrent batches: {accepted}/{sum(map(len, batches))} accepted")

        print(
            f"client stats: {client.stats['requests']} requests, "
            f"{client.stats['events_failed']} events failed"
        )


if __name__ == "__main__":
    asyncio.run(main())
