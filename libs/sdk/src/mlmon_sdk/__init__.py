"""mlmon-sdk: publish prediction and label events from a model server.

Usage::

    from mlmon_sdk import Monitor

    monitor = Monitor("churn", "v3", bootstrap="kafka:9092")
    pid = monitor.log_prediction({"age": 41, "plan": "pro"}, prediction=1, score=0.83, latency_ms=12.5)
    monitor.log_label(pid, label=0)

    with monitor.track({"age": 41}) as call:   # timed; an exception is logged as a failed prediction
        call.prediction = model.predict(...)
"""

from mlmon_sdk.monitor import Monitor, MonitorStats

__all__ = ["Monitor", "MonitorStats"]
