import re
from pathlib import Path

import mlmon_reporting

STATIC = Path(mlmon_reporting.__file__).parent / "static"


def test_page_loads_only_local_assets_that_exist() -> None:
    html = (STATIC / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert refs == ["vendor/uplot/uPlot.min.css", "style.css", "vendor/uplot/uPlot.iife.min.js", "app.js"]
    for ref in refs:
        assert (STATIC / ref).is_file(), ref


def test_vendored_chart_library_has_its_license() -> None:
    license_text = (STATIC / "vendor/uplot/LICENSE").read_text()
    assert license_text.startswith("The MIT License (MIT)")
    assert "Leon Sorokin" in license_text
    assert "uPlot 1.6.31" in (STATIC / "vendor/uplot/VERSION").read_text()


def test_app_uses_the_documented_endpoints_and_no_remote_urls() -> None:
    js = (STATIC / "app.js").read_text()
    for path in ("/models", "/alerts", "/metrics?timeframe=", "/drift?timeframe=", "/history", "/stream"):
        assert path in js, path
    for event_type in ("metrics", "resource", "drift", "alert", "maintenance"):
        assert re.search(rf"\n  {event_type}\(ev\)", js), event_type
    assert not re.search(r"https?://", js + (STATIC / "index.html").read_text() + (STATIC / "style.css").read_text())
