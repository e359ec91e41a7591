"""HTTP API of the collector: ingest (``ingest.py``) and the model registry (``models.py``)."""
