"""``/v1/models``: fleet, metrics, drift heatmap, maintenance history, trends, dashboard config."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from mlmon_reporting import series_names as sn
from mlmon_reporting.api.deps import Rep, invalid, require_model
from mlmon_reporting.api_shapes import DriftResponse, HistoryResponse, MetricsResponse, ModelsResponse, SeriesData
from mlmon_reporting.dashboard import MonitoringDashboard
from mlmon_reporting.fleet import fleet
from mlmon_reporting.timeframe import parse_duration
from mlmon_reporting.timeseries import choose_resolution
from mlmon_reporting.trends import analyze_trends

router = APIRouter(prefix="/v1", tags=["models"])
Timeframe = Annotated[str, Query(max_length=20, description="e.g. 1h, 24h, 7d (max 90d)")]
MAX_FEATURES = 60
#: Counters that are events, not levels: no trend for them.
NO_TREND_PREFIXES = ("alerts.", "maintenance.", sn.DRIFT_STARTED, sn.FEATURE_DRIFT_PREFIX)


@router.get("/models")
def list_models(rep: Rep) -> ModelsResponse:
    return fleet(rep.monitor, rep.store.models(), rep.store.log.alerts(status="firing"))


@router.get("/models/{model_id}/metrics")
def metrics(rep: Rep, model_id: str, timeframe: Timeframe = "24h") -> MetricsResponse:
    try:
        choose_resolution(parse_duration(timeframe, field="timeframe"), rep.store.raw, rep.store.roll)
    except ValueError as exc:
        invalid("timeframe", exc)
    require_model(rep, model_id)
    return rep.monitor.monitor_metrics(model_id, timeframe)


@router.get("/models/{model_id}/drift")
def drift(rep: Rep, model_id: str, timeframe: Timeframe = "24h") -> DriftResponse:
    try:
        span = parse_duration(timeframe, field="timeframe")
        res = choose_resolution(span, rep.store.raw, rep.store.roll)
    except ValueError as exc:
        invalid("timeframe", exc)
    require_model(rep, model_id)
    end = rep.monitor.clock()
    names = [n for n in rep.store.series_names(model_id) if sn.feature_of(n)]
    data = rep.store.read_many(model_id, [*names, sn.DATA_DRIFT], res, end - span, end)
    feats = {n: d for n, d in data.items() if n != sn.DATA_DRIFT and d.t}
    top = sorted(feats, key=lambda n: -max(feats[n].max))[:MAX_FEATURES]
    top.sort()
    t = sorted({x for n in top for x in feats[n].t})
    col = {x: j for j, x in enumerate(t)}
    scores: list[list[float | None]] = []
    for n in top:
        row: list[float | None] = [None] * len(t)
        for x, v in zip(feats[n].t, feats[n].mean, strict=True):
            row[col[x]] = v
        scores.append(row)
    dd: SeriesData = data[sn.DATA_DRIFT]
    return DriftResponse(
        model_id=model_id,
        timeframe=timeframe,
        resolution_s=res.step_s,
        t=t,
        features=[sn.feature_of(n) or n for n in top],
        scores=scores,
        data_drift=dd if dd.t else None,
    )


@router.get("/models/{model_id}/history")
def history(rep: Rep, model_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> HistoryResponse:
    return HistoryResponse(model_id=model_id, items=rep.store.log.history(model_id, limit))


@router.get("/models/{model_id}/trends")
def trends(rep: Rep, model_id: str, window: Timeframe = "7d") -> dict[str, Any]:
    try:
        span = parse_duration(window, field="window")
        choose_resolution(span, rep.store.raw, rep.store.roll)
    except ValueError as exc:
        invalid("window", exc)
    require_model(rep, model_id)
    names = [n for n in rep.store.series_names(model_id) if not n.startswith(NO_TREND_PREFIXES)]
    resp = rep.monitor.monitor_metrics(model_id, window, series=names)
    found = analyze_trends(resp, window, now=resp.end, thresholds=rep.config.thresholds_for(model_id))
    return {
        "model_id": model_id,
        "window": window,
        "trends": {name: tr.model_dump(mode="json") for name, tr in sorted(found.items())},
    }


@router.get("/models/{model_id}/dashboard")
def dashboard(rep: Rep, model_id: str, timeframe: Timeframe = "24h") -> dict[str, Any]:
    try:
        span = parse_duration(timeframe, field="timeframe")
    except ValueError as exc:
        invalid("timeframe", exc)
    require_model(rep, model_id)
    end = rep.monitor.clock()
    empty = SeriesData.model_construct(t=[], mean=[], min=[], max=[], last=[])
    present = MetricsResponse.model_construct(
        model_id=model_id,
        timeframe=timeframe,
        start=end - span,
        end=end,
        resolution_s=0,
        summary={},
        series=dict.fromkeys(rep.store.series_names(model_id), empty),
        thresholds=[],
        breaches=[],
    )
    return MonitoringDashboard(rep.config).generate_dashboard(present, timeframe)
