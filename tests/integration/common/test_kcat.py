"""The contract works for a client we did not write: kcat produces a prediction from a JSON file."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

import confluent_kafka
import pytest

from mlmon_common import topics
from mlmon_common.events import PredictionEvent
from mlmon_common.kafka import ConsumerRunner, EventProducer, Item, Rejected
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import wait_for

DATA = Path(__file__).with_name("data") / "prediction.json"


@pytest.fixture(scope="module")
def kcat_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Debian's kcat links an old librdkafka; point it at the one inside the confluent-kafka wheel (BROKER.md)."""
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not installed (make test installs it: apt-get install kcat)"
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    found = glob.glob(str(libs / "librdkafka-*.so.1"))
    assert found, f"no librdkafka in {libs}"
    libdir = tmp_path_factory.mktemp("rdkafka")
    (libdir / "librdkafka.so.1").symlink_to(found[0])
    return os.environ | {"LD_LIBRARY_PATH": str(libdir)}


def test_prediction_produced_by_kcat_is_validated_and_consumed(kafka: KafkaSettings, kcat_env: dict[str, str]) -> None:
    topic = kafka.topic(topics.RAW_PREDICTIONS.name)
    subprocess.run(
        ["kcat", "-P", "-b", kafka.bootstrap, "-t", topic, "-k", "fraud-go", "-l", str(DATA)],
        env=kcat_env,
        check=True,
        timeout=30,
        capture_output=True,
    )
    got: list[PredictionEvent] = []

    def handle(items: Sequence[Item]) -> list[Rejected]:
        got.extend(e for e, _ in items if isinstance(e, PredictionEvent))
        return []

    runner = ConsumerRunner(
        kafka,
        service="kcat",
        topics=[topics.RAW_PREDICTIONS],
        handler=handle,
        producer=EventProducer(kafka, client_id="kcat-dlq"),
    )
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        wait_for(lambda: got, 30, "the kcat-produced event")
    finally:
        runner.stop()
        thread.join(15)
    (event,) = got
    assert event.prediction_id == "tx-778812"
    assert event.features == {"amount": 182.4, "merchant_category": "travel", "card_present": False, "hour": 22}
    assert event.occurred_at.utcoffset() is not None
    assert event.occurred_at.hour == 10
    assert not runner.stats.deadlettered
