import xml.etree.ElementTree as ET

from mlmon_reporting.charts import bar_chart_svg, line_chart_svg

NS = "{http://www.w3.org/2000/svg}"


def test_line_chart_scales_points_and_threshold() -> None:
    svg = line_chart_svg("acc <&>", [0.0, 50.0, 100.0], [1.0, 0.5, 0.0], threshold=0.5, width=160, height=144)
    root = ET.fromstring(svg)  # well-formed XML, title escaped
    assert root.get("aria-label") == "acc <&>"
    line = root.find(f"{NS}polyline")
    assert line is not None
    # x: 48..148, y: 122 (lo) .. 22 (hi)
    assert line.get("points") == "48.0,22.0 98.0,72.0 148.0,122.0"
    thr = root.find(f"{NS}line")
    assert thr is not None
    assert (thr.get("y1"), thr.get("class")) == ("72.0", "threshold")
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert texts[:3] == ["acc <&>", "1", "0"]
    assert texts[3:] == ["01-01 00:00", "01-01 00:01"]


def test_line_chart_flat_empty_and_nan() -> None:
    flat = ET.fromstring(line_chart_svg("x", [0.0, 10.0], [2.0, 2.0], width=160, height=144))
    assert flat.find(f"{NS}polyline").get("points") == "48.0,72.0 148.0,72.0"  # type: ignore[union-attr]
    empty = ET.fromstring(line_chart_svg("x", [0.0], [float("nan")]))
    assert [t.text for t in empty.iter(f"{NS}text")] == ["x", "no data"]


def test_bar_chart() -> None:
    root = ET.fromstring(bar_chart_svg("incidents", ["critical", "warning"], [1.0, 4.0], width=250))
    widths = [r.get("width") for r in root.iter(f"{NS}rect")]
    assert widths == ["25.0", "100.0"]
    assert [t.text for t in root.iter(f"{NS}text")] == ["incidents", "critical", "1", "warning", "4"]
