from datetime import UTC, datetime, timedelta

import pytest

from mlmon_reporting.config import Retention
from mlmon_reporting.timeseries import (
    RAW,
    ROLLUP,
    Agg,
    Point,
    admit_series,
    apply,
    bucket_start,
    choose_resolution,
    chunk_keys,
    decode_bucket,
    decode_chunk,
    dirty_member,
    max_chunks,
    parse_dirty,
    raw_key,
    resolutions,
    rollup,
    ttl_s,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # epoch 1767268800


def test_agg_merge_keeps_count_sum_min_max_and_latest_last() -> None:
    a = Agg.of(2.0, 100.0).merge(Agg.of(5.0, 90.0)).merge(Agg.of(3.0, 110.0))
    assert a == Agg(3, 10.0, 2.0, 5.0, 3.0, 110.0, 0)
    assert a.mean == pytest.approx(10 / 3)
    late = a.merge(Agg.of(-1.0, 105.0))  # out of order: last stays 3.0
    assert (late.count, late.min, late.last, late.last_ts) == (4, -1.0, 3.0, 110.0)


def test_agg_encode_decode_round_trip_exact_floats() -> None:
    a = Agg(3, 0.1 + 0.2, 1e-9, 123456.789, 0.3, 1767268830.5, 2)
    assert len(a.encode(1767268800)) == 56
    assert decode_bucket(a.encode(1767268800)) == (1767268800, a)
    assert Agg.decode(a.encode(0)) == a


def test_single_sample_buckets_use_the_short_record() -> None:
    one = Agg.of(0.1 + 0.2, 1767268830.25)
    assert len(one.encode(1767268800)) == 20
    assert decode_bucket(one.encode(1767268800)) == (1767268800, one)
    for other in (Agg.of(0.3, 1.0, revision=1), Agg(1, 2.0, 1.0, 2.0, 2.0, 1.0, 0), Agg.of(float("inf"), 1.0)):
        assert decode_bucket(other.encode(60)) == (60, other)
    assert len(Agg.of(0.3, 1.0, revision=1).encode(60)) == 56


def test_agg_decode_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match=r"^bucket value: expected 20 or 56 bytes, got 3$"):
        Agg.decode(b"1 2")


def test_apply_merge_and_replace_by_revision() -> None:
    p = Point("m", "accuracy", T0, 0.9)
    first = apply(None, p)
    assert first == Agg(1, 0.9, 0.9, 0.9, 0.9, T0.timestamp(), 0)
    merged = apply(first, Point("m", "accuracy", T0 + timedelta(seconds=10), 0.8))
    assert merged is not None
    assert (merged.count, merged.sum, merged.last) == (2, pytest.approx(1.7), 0.8)
    r1 = Point("m", "accuracy", T0, 0.7, mode="replace", revision=1)
    replaced = apply(merged, r1)
    assert replaced == Agg(1, 0.7, 0.7, 0.7, 0.7, T0.timestamp(), 1)
    assert apply(replaced, Point("m", "accuracy", T0, 0.1, mode="replace", revision=0)) is None
    # redelivery of the same revision replaces: idempotent, no double count
    assert apply(replaced, r1) == replaced


def test_a_late_revision_of_an_older_window_does_not_hide_a_newer_window_in_the_bucket() -> None:
    """5 s windows in a 1-min bucket: window 0:00 revised (rev 1, late labels) after window 0:05 (rev 0)."""
    first = apply(None, Point("m", "latency_p95_s", T0, 0.05, mode="replace"))
    newer = apply(first, Point("m", "latency_p95_s", T0 + timedelta(seconds=5), 0.6, mode="replace"))
    assert newer is not None
    assert newer.last == 0.6
    assert apply(newer, Point("m", "latency_p95_s", T0, 0.05, mode="replace", revision=1)) is None
    revised = apply(newer, Point("m", "latency_p95_s", T0 + timedelta(seconds=5), 0.7, mode="replace", revision=1))
    assert revised is not None
    assert (revised.last, revised.revision) == (0.7, 1)
    newest = apply(revised, Point("m", "latency_p95_s", T0 + timedelta(seconds=10), 0.65, mode="replace"))
    assert newest is not None
    assert (newest.last, newest.revision) == (0.65, 0)


def test_rollup_of_minutes_is_their_merge() -> None:
    minutes = [Agg.of(float(v), 1000.0 + i) for i, v in enumerate([4, 1, 7])]
    assert rollup(minutes) == Agg(3, 12.0, 1.0, 7.0, 7.0, 1002.0, 0)
    assert rollup([]) is None


def test_bucket_start_and_key_layout() -> None:
    t = T0 + timedelta(minutes=3, seconds=59)
    assert bucket_start(t, RAW) == 1767268800 + 180
    assert bucket_start(t, ROLLUP) == 1767268800
    # raw chunks span 2 h: 1767268800 is 12:00, chunk starts at 12:00 (divisible by 7200)
    assert raw_key("churn", "accuracy", RAW, 1767268980) == "mlmon:ts:v1:{churn}:1m:accuracy:1767268800"
    # rollup chunks span 5 d: 1767268800 // 432000 * 432000 = 1766880000
    assert raw_key("churn", "accuracy", ROLLUP, 1767268800) == "mlmon:ts:v1:{churn}:1h:accuracy:1766880000"
    assert raw_key("a:b{c}", "feature_drift.x y", RAW, 0) == "mlmon:ts:v1:{a%3Ab%7Bc%7D}:1m:feature_drift.x%20y:0"


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"timezone-aware"):
        bucket_start(datetime(2026, 1, 1), RAW)


def test_chunk_keys_cover_the_window() -> None:
    keys = chunk_keys("m", "s", RAW, T0 - timedelta(hours=3), T0 + timedelta(minutes=1))
    assert [k.rsplit(":", 1)[1] for k in keys] == ["1767254400", "1767261600", "1767268800"]
    assert len(chunk_keys("m", "s", RAW, T0 - timedelta(hours=24), T0)) == 13


def test_ttl_and_memory_bounds() -> None:
    assert ttl_s(RAW) == 48 * 3600 + 7200
    assert ttl_s(ROLLUP) == 90 * 86400 + 5 * 86400
    assert max_chunks(RAW) == 26
    assert max_chunks(ROLLUP) == 20


def test_decode_chunk_filters_and_sorts() -> None:
    values = [Agg.of(v, float(t)).encode(t) for t, v in ((1767268860, 2.0), (1767268800, 1.0), (1767272400, 9.0))]
    got = decode_chunk(values, T0 + timedelta(seconds=30), T0 + timedelta(hours=1), RAW)
    assert [(ts, a.last) for ts, a in got] == [(1767268800, 1.0), (1767268860, 2.0)]


def test_dirty_member_round_trip() -> None:
    member = dirty_member(Point("m", "feature_drift.a|b", T0 + timedelta(minutes=59), 1.0))
    assert member == "feature_drift.a|b|1767268800"
    assert parse_dirty(member.encode()) == ("feature_drift.a|b", 1767268800)
    with pytest.raises(ValueError, match=r"^dirty member: expected '<series>\|<epoch>', got 'nope'$"):
        parse_dirty("nope")


def test_choose_resolution() -> None:
    assert choose_resolution(timedelta(hours=24)) is RAW
    assert choose_resolution(timedelta(hours=25)) is ROLLUP
    assert choose_resolution(timedelta(days=90)) is ROLLUP
    with pytest.raises(ValueError, match=r"^timeframe: 91 days, 0:00:00 exceeds the rollup retention of 90 d$"):
        choose_resolution(timedelta(days=91))


def test_resolutions_from_config() -> None:
    raw, roll = resolutions(Retention())
    assert (raw, roll) == (RAW, ROLLUP)
    raw, roll = resolutions(Retention(raw_step_s=30, rollup_step_s=1800))
    assert (raw.name, roll.name) == ("30s", "30m")
    with pytest.raises(ValueError, match=r"rollup_step_s must be a multiple of retention.raw_step_s"):
        resolutions(Retention(raw_step_s=70, rollup_step_s=3600))


def test_admit_series_caps_new_series_only() -> None:
    assert admit_series(299, True, 300)
    assert not admit_series(300, True, 300)
    assert admit_series(300, False, 300)


def test_columns_fast_path_equals_bucket_decoding() -> None:
    from mlmon_reporting.monitor import to_series_data
    from mlmon_reporting.timeseries import columns

    chunk_a = [
        Agg(2, 3.0, 1.0, 2.0, 2.0, 1767268870.0, 0).encode(1767268860),
        Agg.of(1.0, 1767268800.0).encode(1767268800),
    ]
    chunk_b = [Agg.of(9.0, 1767272400.0).encode(1767272400), Agg.of(5.0, 1767276000.0).encode(1767276000)]
    start, end = T0 + timedelta(seconds=30), T0 + timedelta(hours=2)
    fast = columns([chunk_a, chunk_b], start, end, RAW)
    slow = to_series_data(decode_chunk([*chunk_a, *chunk_b], start, end, RAW))
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_dump() == {
        "t": [1767268800.0, 1767268860.0, 1767272400.0],
        "mean": [1.0, 1.5, 9.0],
        "min": [1.0, 1.0, 9.0],
        "max": [1.0, 2.0, 9.0],
        "last": [1.0, 2.0, 9.0],
    }
    assert columns([], start, end, RAW).t == []
    with pytest.raises(ValueError, match=r"^bucket value: expected 20 or 56 bytes per bucket$"):
        columns([[b"1 2 3"]], start, end, RAW)
