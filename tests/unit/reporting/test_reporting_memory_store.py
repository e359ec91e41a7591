from datetime import UTC, datetime, timedelta

from mlmon_common.events import MetricsEvent
from mlmon_reporting.memory_store import InMemorySeriesStore
from mlmon_reporting.timeseries import RAW, ROLLUP, Point

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_minutes_roll_up_into_hours() -> None:
    store = InMemorySeriesStore()
    for minute in range(60):
        store.write(Point("m", "x", T0 + timedelta(minutes=minute), float(minute)))
    store.write(Point("m", "x", T0 + timedelta(hours=1, minutes=5), 100.0))
    raw = store.read("m", "x", RAW, T0, T0 + timedelta(hours=2))
    assert len(raw) == 61
    hours = store.read("m", "x", ROLLUP, T0, T0 + timedelta(hours=2))
    assert [(ts, a.count, a.sum, a.min, a.max, a.last) for ts, a in hours] == [
        (1767268800, 60, 1770.0, 0.0, 59.0, 59.0),
        (1767272400, 1, 100.0, 100.0, 100.0, 100.0),
    ]


def test_rollup_rebuild_is_idempotent_under_revisions() -> None:
    store = InMemorySeriesStore()

    def window(rev: int, acc: float) -> MetricsEvent:
        return MetricsEvent(
            model_id="m",
            window_start=T0,
            window_end=T0 + timedelta(minutes=1),
            revision=rev,
            values={"accuracy": acc},
        )

    assert store.ingest(window(0, 0.9)) == 1
    assert store.ingest(window(0, 0.9)) == 1  # redelivery replaces, count stays 1
    assert store.ingest(window(1, 0.8)) == 1
    assert store.ingest(window(0, 0.7)) == 0  # older revision ignored
    [(_, hour)] = store.read("m", "accuracy", ROLLUP, T0, T0 + timedelta(hours=1))
    assert (hour.count, hour.sum, hour.revision) == (1, 0.8, 1)


def test_expire_bounds_memory_and_series_limit() -> None:
    store = InMemorySeriesStore(max_series=2)
    assert store.write(Point("m", "a", T0, 1.0))
    assert store.write(Point("m", "b", T0, 1.0))
    assert not store.write(Point("m", "c", T0, 1.0))
    assert store.series_names("m") == ["a", "b"]
    assert store.models() == ["m"]
    assert store.last_seen("m") == T0.timestamp()
    assert store.last_seen("other") is None
    store.flush_rollups("m")
    before = store.memory_bytes()
    assert before > 0
    # raw chunk (12:00-14:00) lives until 12:00 + 48 h + 2 h; rollups for 95 d
    assert store.expire(T0 + timedelta(hours=49, minutes=59)) == 0
    assert store.expire(T0 + timedelta(hours=50)) == 2
    assert store.read("m", "a", RAW, T0, T0 + timedelta(minutes=1)) == []
    assert len(store.read("m", "a", ROLLUP, T0, T0 + timedelta(hours=1))) == 1
    assert store.memory_bytes() < before
