"""Metrics: the mapping with real SDK readers, percentiles by hand, and the exporter end to end."""

from __future__ import annotations

import pytest
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from honeycomb_events import ConfigurationError
from honeycomb_events.otel import HoneycombMetricExporter, map_metrics
from honeycomb_events.otel._metric_exporter import DELTA_TEMPORALITY
from honeycomb_events.otel.mapping._metrics import PERCENTILES, percentiles
from honeycomb_events.receiver import Fault, Receiver

from .conftest import FAST_RETRY

VALUES = [5, 12, 15, 18, 30, 45, 60]
# Buckets (5,10]:1  (10,20]:3  (20,50]:2  (50,60]:1, closed by min 5 and max 60. The rank of a
# quantile q is 7q; the value lies as far into its bucket as the rank into the bucket's count.
EXPLICIT_PERCENTILES = {
    "p001": 5 + 5 * 0.007,  # rank 0.007 of 1 in (5,10]
    "p01": 5 + 5 * 0.07,
    "p05": 5 + 5 * 0.35,
    "p10": 5 + 5 * 0.7,
    "p25": 10 + 10 * (0.75 / 3),  # rank 1.75: 0.75 into (10,20] holding 3
    "p50": 10 + 10 * (2.5 / 3),
    "p75": 20 + 30 * (1.25 / 2),  # rank 5.25: 1.25 into (20,50] holding 2
    "p90": 50 + 10 * 0.3,  # rank 6.3: 0.3 into (50,60]
    "p95": 50 + 10 * 0.65,
    "p99": 50 + 10 * 0.93,
    "p999": 50 + 10 * 0.993,
}


def meter_and_reader(views=(), resource=None):
    reader = InMemoryMetricReader(preferred_temporality=DELTA_TEMPORALITY)
    provider = MeterProvider(
        metric_readers=[reader],
        resource=resource or Resource.create({"service.name": "svc"}),
        views=list(views),
    )
    return provider.get_meter("app"), reader


def events_of(reader):
    return [event for _, events in map_metrics(reader.get_metrics_data()) for event in events]


def test_counters_gauges_and_histograms_of_one_moment_and_attributes_share_one_event():
    meter, reader = meter_and_reader(
        views=[
            View(
                instrument_name="latency",
                aggregation=ExplicitBucketHistogramAggregation([10, 20, 50]),
            )
        ]
    )
    requests = meter.create_counter("requests")
    in_flight = meter.create_up_down_counter("in_flight")
    latency = meter.create_histogram("latency")

    def temperature(options: CallbackOptions):
        yield Observation(21.5, {"route": "/a"})

    meter.create_observable_gauge("temperature", callbacks=[temperature])
    requests.add(3, {"route": "/a"})
    requests.add(1, {"route": "/b"})
    in_flight.add(2, {"route": "/a"})
    in_flight.add(-1, {"route": "/a"})
    for value in VALUES:
        latency.record(value, {"route": "/a"})
    first, second = events_of(reader)
    assert first.data["route"] == "/a"
    assert first.data["meta.signal_type"] == "metric"
    assert first.data["meta.annotation_type"] == "metric_event"
    assert first.data["service.name"] == "svc"
    assert (first.data["requests"], first.data["in_flight"], first.data["temperature"]) == (
        3,
        1,
        21.5,
    )
    assert first.data["latency.count"] == 7
    assert first.data["latency.sum"] == 185
    assert first.data["latency.avg"] == pytest.approx(185 / 7)
    assert (first.data["latency.min"], first.data["latency.max"]) == (5, 60)
    for suffix, expected in EXPLICIT_PERCENTILES.items():
        assert first.data[f"latency.{suffix}"] == pytest.approx(expected), suffix
    assert second.data == {
        "meta.signal_type": "metric",
        "meta.annotation_type": "metric_event",
        "route": "/b",
        **{k: v for k, v in first.data.items() if k.startswith(("service.", "telemetry."))},
        "requests": 1,
    }
    assert first.time[20:29] == "000000000"  # truncated to the second


def test_counters_are_delta_by_default_so_each_event_is_its_interval():
    meter, reader = meter_and_reader()
    requests = meter.create_counter("requests")
    requests.add(5)
    assert events_of(reader)[0].data["requests"] == 5
    requests.add(2)
    assert events_of(reader)[0].data["requests"] == 2


def test_a_histogram_without_min_and_max_is_closed_by_its_outer_bounds():
    meter, reader = meter_and_reader(
        views=[
            View(
                instrument_name="latency",
                aggregation=ExplicitBucketHistogramAggregation([10, 20, 50], record_min_max=False),
            )
        ]
    )
    latency = meter.create_histogram("latency")
    for value in VALUES:
        latency.record(value)
    [event] = events_of(reader)
    assert "latency.min" not in event.data
    assert "latency.max" not in event.data
    # First bucket (0,10], last bucket has no upper bound: its percentiles sit on 50.
    assert event.data["latency.p10"] == pytest.approx(0 + 10 * 0.7)
    assert event.data["latency.p99"] == pytest.approx(50)


def test_percentiles_of_an_exponential_histogram_by_hand():
    # Scale 0: base 2, positive bucket i holds (2^i, 2^(i+1)]. Offset 2: (4,8]:2 (8,16]:1 (16,32]:1.
    point = ExponentialHistogramDataPoint(
        attributes={},
        start_time_unix_nano=0,
        time_unix_nano=1_714_564_800_500_000_000,
        count=5,
        sum=50.0,
        scale=0,
        zero_count=1,
        positive=Buckets(offset=2, bucket_counts=[2, 1, 1]),
        negative=Buckets(offset=0, bucket_counts=[]),
        flags=0,
        min=0.0,
        max=20.0,
    )
    data = MetricsData(
        [
            ResourceMetrics(
                Resource({"service.name": "svc"}),
                [
                    ScopeMetrics(
                        InstrumentationScope("app"),
                        [
                            Metric(
                                "size",
                                None,
                                None,
                                ExponentialHistogram([point], AggregationTemporality.DELTA),
                            )
                        ],
                        None,
                    )
                ],
                None,
            )
        ]
    )
    [(_, [event])] = map_metrics(data)
    assert event.time == "2024-05-01T12:00:00.000000000Z"
    assert event.data["size.count"] == 5
    assert event.data["size.avg"] == 10.0
    assert event.data["size.p10"] == 0.0  # rank 0.5: in the zero bucket
    assert event.data["size.p50"] == pytest.approx(4 + 4 * (1.5 / 2))  # rank 2.5: 1.5 into (4,8]
    assert event.data["size.p75"] == pytest.approx(8 + 8 * 0.75)  # rank 3.75: 0.75 into (8,16]
    assert event.data["size.p99"] == 20.0  # rank 4.95: 0.95 into (16,32] is 31.2, clamped to max


def test_an_exponential_histogram_from_the_sdk_stays_within_min_and_max():
    meter, reader = meter_and_reader(
        views=[View(instrument_name="size", aggregation=ExponentialBucketHistogramAggregation())]
    )
    size = meter.create_histogram("size")
    for value in [0.0, 1.0, 2.0, 4.0, 1000.0]:  # the SDK refuses negative histogram values
        size.record(value)
    [event] = events_of(reader)
    values = [event.data[f"size.{suffix}"] for suffix in ("p001", "p25", "p50", "p75", "p999")]
    assert values == sorted(values)
    assert all(0.0 <= value <= 1000.0 for value in values)
    assert event.data["size.p001"] == 0.0  # rank 0.005: the zero bucket
    # Rank 2.5 of 5 lies in the bucket that ends at 2 (its width depends on the SDK's scale).
    assert 1.0 < event.data["size.p50"] <= 2.0
    assert event.data["size.p999"] == 1000.0


def test_percentile_edge_cases():
    assert percentiles(([], [], []), 0) == []
    assert percentiles(([0.0], [1.0], [3]), 0) == []
    estimates = dict(
        zip(
            (suffix for suffix, _ in PERCENTILES),
            percentiles(([0.0, 10.0], [10.0, 20.0], [0, 4]), 4),
            strict=True,
        )
    )
    assert estimates["p50"] == 15.0  # empty buckets skipped
    # Counts adding up to less than the total: ranks past every bucket take the last bound.
    assert percentiles(([0.0], [10.0], [1]), 4)[-1] == 10.0
    # A negative count (no SDK makes one) counts as empty.
    assert percentiles(([0.0, 1.0], [1.0, 2.0], [-3, 4]), 4) == percentiles(
        ([0.0, 1.0], [1.0, 2.0], [0, 4]), 4
    )


def test_percentiles_are_found_in_one_walk_as_if_each_were_found_alone():
    lowers, uppers = [0.0, 1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 4.0, 8.0, 100.0]
    counts = [5, 0, 90, 0, 5]
    estimates = percentiles((lowers, uppers, counts), 100)
    for (_, quantile), value in zip(PERCENTILES, estimates, strict=True):
        rank, seen = quantile * 100, 0
        for lower, upper, count in zip(lowers, uppers, counts, strict=True):
            if count and seen + count >= rank:
                assert value == lower + (upper - lower) * ((rank - seen) / count)
                break
            seen += count


def test_point_attributes_come_first_and_resource_attributes_win():
    meter, reader = meter_and_reader(
        resource=Resource.create({"service.name": "svc", "region": "eu"})
    )
    meter.create_counter("requests").add(1, {"region": "from-point", "route": "/a"})
    [event] = events_of(reader)
    assert event.data["region"] == "eu"
    assert event.data["route"] == "/a"


def test_a_periodic_reader_exports_to_unknown_metrics_by_default(environment, receiver):
    exporter = HoneycombMetricExporter()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": "svc"})
    )
    provider.get_meter("app").create_counter("requests").add(7, {"route": "/a"})
    provider.shutdown()  # collects, exports, then shuts the exporter down with timeout=
    [stored] = receiver.events("unknown_metrics")
    assert stored.data["requests"] == 7
    assert stored.data["route"] == "/a"
    assert exporter.export(MetricsData([])) is MetricExportResult.FAILURE  # shut down


def test_datasets_and_keys_come_from_the_metrics_variables(environment):
    with Receiver(api_keys={"metrics-key"}) as receiver:
        environment.setenv("HONEYCOMB_API_ENDPOINT", receiver.url)
        environment.setenv("HONEYCOMB_METRICS_APIKEY", "metrics-key")
        environment.setenv("HONEYCOMB_METRICS_DATASET", "my-metrics")
        environment.setenv("HONEYCOMB_DATASET", "not-for-metrics")
        meter, reader = meter_and_reader()
        meter.create_counter("requests").add(1)
        exporter = HoneycombMetricExporter()
        assert exporter.export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
        assert receiver.datasets() == ["my-metrics"]
        meter.create_counter("requests").add(1)
        HoneycombMetricExporter(dataset="explicit").export(reader.get_metrics_data())
        assert sorted(receiver.datasets()) == ["explicit", "my-metrics"]
    with pytest.raises(ConfigurationError, match="the dataset argument"):
        HoneycombMetricExporter(dataset="a/b")


def test_503_twice_then_success_delivers_the_points_once(environment, receiver):
    receiver.faults.push(Fault(status=503, times=2, path="batch"))
    meter, reader = meter_and_reader()
    meter.create_counter("requests").add(1, {"route": "/a"})
    meter.create_counter("requests").add(1, {"route": "/b"})
    exporter = HoneycombMetricExporter(retry=FAST_RETRY)
    assert exporter.export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
    assert sorted(e.data["route"] for e in receiver.events("unknown_metrics")) == ["/a", "/b"]
    assert [r.status for r in receiver.requests] == [503, 503, 200]


def test_the_default_temporality_can_be_overridden(environment):
    exporter = HoneycombMetricExporter(
        preferred_temporality={Counter: AggregationTemporality.CUMULATIVE}
    )
    assert exporter._preferred_temporality[Counter] is AggregationTemporality.CUMULATIVE


def test_shutdown_accepts_the_readers_timeout_keyword_and_is_idempotent(environment, receiver):
    exporter = HoneycombMetricExporter()
    exporter.shutdown(timeout=5)
    exporter.shutdown(timeout_millis=5)
    meter, reader = meter_and_reader()
    meter.create_counter("requests").add(1)
    assert exporter.export(reader.get_metrics_data()) is MetricExportResult.FAILURE
    assert len(receiver.requests) == 0


def test_stored_histogram_percentiles_match_the_hand_computed_values(environment, receiver):
    meter, reader = meter_and_reader(
        views=[
            View(
                instrument_name="latency",
                aggregation=ExplicitBucketHistogramAggregation([10, 20, 50]),
            )
        ]
    )
    latency = meter.create_histogram("latency")
    for value in VALUES:
        latency.record(value, {"route": "/a"})
    assert HoneycombMetricExporter().export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
    [stored] = receiver.events("unknown_metrics")
    assert (stored.data["latency.count"], stored.data["latency.sum"]) == (7, 185)
    for suffix, expected in EXPLICIT_PERCENTILES.items():
        assert stored.data[f"latency.{suffix}"] == pytest.approx(expected), suffix
