from datetime import timedelta

import pytest

from mlmon_reporting.timeframe import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("1.5h", timedelta(minutes=90)),
        (" 3d ", timedelta(days=3)),
    ],
)
def test_parse_duration_accepts_number_and_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "24", "h", "24x", "-1h", "1 day", "1e3s", "24H"])
def test_parse_duration_rejects_bad_forms_naming_the_field(text: str) -> None:
    with pytest.raises(ValueError, match=r"^timeframe: invalid duration .*unit one of s, m, h, d, w"):
        parse_duration(text, field="timeframe")


def test_parse_duration_rejects_zero_and_too_long_and_non_strings() -> None:
    with pytest.raises(ValueError, match=r"^window: duration must be positive, got '0h'$"):
        parse_duration("0h", field="window")
    with pytest.raises(ValueError, match=r"^timeframe: duration '91d' exceeds the maximum of 90 d$"):
        parse_duration("91d", field="timeframe")
    with pytest.raises(ValueError, match=r"^timeframe: expected a string like '24h', got int$"):
        parse_duration(24, field="timeframe")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=12), "12 min"),
        (timedelta(hours=5), "5 h"),
        (timedelta(days=3), "3 d"),
        (timedelta(hours=36), "1.5 d"),
        (timedelta(0), "0 s"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
