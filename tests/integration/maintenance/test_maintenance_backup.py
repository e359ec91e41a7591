"""Backup -> wipe Redis -> restore gives back the same references, rules, silences, alert state and plan
history (with TTLs); a corrupt backup is refused; cleanup deletes only what is past its age."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from mlmon_common import cli as mlmon_cli
from mlmon_common.settings import RedisSettings
from mlmon_maintenance.cleanup import cleanup
from mlmon_maintenance.config import CleanupConfig
from mlmon_maintenance.plans import Action, MaintenancePlan
from mlmon_maintenance.state import StateStore

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _seed(r: redis.Redis, p: str) -> StateStore:
    """State as the other services keep it: references, rules, silences, alert state, plans, raw bytes."""
    r.hset(f"{p}drift:reference:churn", mapping={"age": json.dumps([31, 45, 52]), "plan": json.dumps([1, 2])})
    r.set(f"{p}alerting:rules", json.dumps({"groups": [{"name": "drift", "rules": [{"alert": "DataDrift"}]}]}))
    r.set(f"{p}alerting:silence:s-1", json.dumps({"matchers": ["model_id=churn"], "by": "alice"}), ex=3600)
    r.zadd(f"{p}alerting:silences", {"s-1": NOW.timestamp() + 3600})
    r.hset(f"{p}alerting:state:churn", "fp-1", json.dumps({"status": "firing"}))
    r.sadd(f"{p}maint:models", "churn", "fraud")
    r.rpush(f"{p}maint:outcomes:churn", b'{"label":1}', b'{"label":0}')
    r.set(f"{p}blob", bytes(range(256)))  # not UTF-8
    store = StateStore(r, p)
    plan = MaintenancePlan.propose(
        model_id="churn", actions=[Action(type="retraining")], priority=2, reasons=[], due_at=NOW, now=NOW, key="k"
    )
    store.create(plan)
    store.update(plan.id, lambda x: x.approve("alice", "go", NOW))
    store.update(plan.id, lambda x: x.cancel("bob", "not now", NOW + timedelta(minutes=1)))
    return store


def _snapshot(r: redis.Redis, p: str) -> dict[bytes, tuple[str, Any, bool]]:
    out: dict[bytes, tuple[str, Any, bool]] = {}
    for key in r.scan_iter(match=p + "*"):
        kind = r.type(key).decode()  # type: ignore[union-attr]
        value: Any = {
            "string": lambda k: r.get(k),
            "hash": lambda k: r.hgetall(k),
            "list": lambda k: r.lrange(k, 0, -1),
            "set": lambda k: sorted(r.smembers(k)),  # type: ignore[arg-type]
            "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
        }[kind](key)
        out[key] = (kind, value, r.pttl(key) > 0)
    return out


def _env(redis_settings: RedisSettings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "MLMON_REDIS_URL": redis_settings.url.get_secret_value(),
        "MLMON_REDIS_KEY_PREFIX": redis_settings.key_prefix,
        **extra,
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlmon_maintenance", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_backup_wipe_restore_round_trip(
    redis_client: redis.Redis, redis_settings: RedisSettings, tmp_path: Path
) -> None:
    p = redis_settings.key_prefix
    store = _seed(redis_client, p)
    redis_client.set(f"other-{p}untouched", b"x")  # outside the prefix: neither backed up nor restored
    before = _snapshot(redis_client, p)
    history_before = store.find_plans("churn")

    made = _run(["backup", "--dir", str(tmp_path / "b")], _env(redis_settings))
    assert made.returncode == 0, made.stderr
    info = json.loads(made.stdout)
    assert info["keys"] == len(before) == 11
    path = Path(info["path"])
    header = json.loads(path.read_text().splitlines()[0])
    assert header["format"] == "mlmon-backup"
    assert header["prefix"] == p

    wiped = list(redis_client.scan_iter(match=p + "*"))
    redis_client.delete(*wiped)
    assert not list(redis_client.scan_iter(match=p + "*"))

    back = _run(["restore", "--from", str(path)], _env(redis_settings))
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["keys"] == 11
    assert _snapshot(redis_client, p) == before
    ttl = redis_client.ttl(f"{p}alerting:silence:s-1")
    assert 3500 < ttl <= 3600  # the silence keeps expiring
    history = store.find_plans("churn")
    assert history == history_before
    assert [(h.actor, h.to_state, h.why) for h in history[0].history] == [
        ("planner", "proposed", "requested"),
        ("alice", "approved", "go"),
        ("bob", "cancelled", "not now"),
    ]
    assert redis_client.get(f"other-{p}untouched") == b"x"
    redis_client.delete(f"other-{p}untouched")


def test_corrupt_backup_is_refused_and_mlmon_cli_registers_the_commands(
    redis_client: redis.Redis, redis_settings: RedisSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = redis_settings.key_prefix
    _seed(redis_client, p)
    monkeypatch.setenv("MLMON_REDIS_URL", redis_settings.url.get_secret_value())
    monkeypatch.setenv("MLMON_REDIS_KEY_PREFIX", p)
    assert mlmon_cli.main(["backup", "--dir", str(tmp_path), "--keep", "1"]) == 0  # `mlmon backup`
    assert mlmon_cli.main(["backup", "--dir", str(tmp_path), "--keep", "1"]) == 0
    files = sorted(tmp_path.glob("mlmon-backup-*.jsonl"))
    assert len(files) == 1  # --keep 1 pruned the older one

    text = files[0].read_text().replace("alice", "mallory")
    assert text != files[0].read_text()
    files[0].write_text(text)
    redis_client.delete(f"{p}alerting:rules")
    refused = _run(["restore", "--from", str(files[0])], _env(redis_settings))
    assert refused.returncode == 2
    assert "checksum mismatch" in refused.stderr
    assert redis_client.get(f"{p}alerting:rules") is None  # nothing written

    files[0].write_text("\n".join(text.splitlines()[:-1]) + "\n")  # truncated: no checksum trailer
    truncated = _run(["restore", "--from", str(tmp_path)], _env(redis_settings))  # a directory: newest file
    assert truncated.returncode == 2
    assert "not a checksum trailer" in truncated.stderr


def test_cleanup_deletes_only_what_is_past_its_age(
    redis_client: redis.Redis, redis_settings: RedisSettings, tmp_path: Path
) -> None:
    r, p = redis_client, redis_settings.key_prefix
    now = time.time()
    old, fresh = now - 3 * 86400, now - 600
    r.set(f"{p}join:churn:p-ttl", json.dumps({"occurred_at": old}), ex=3600)  # Redis expires it: kept
    r.set(f"{p}join:churn:p-old", json.dumps({"occurred_at": datetime.fromtimestamp(old, UTC).isoformat()}))
    r.set(f"{p}join:churn:p-new", json.dumps({"occurred_at": fresh}))
    r.set(f"{p}join:churn:p-undated", b"opaque")
    r.hset(f"{p}join:churn:pending", mapping={"a": json.dumps({"occurred_at": old}), "b": json.dumps({"at": fresh})})
    r.zadd(f"{p}join:churn:index", {"a": old, "b": fresh})
    r.hset(f"{p}ts:churn:1m:accuracy", mapping={str(int(old)): "1", str(int(fresh)): "2"})
    r.hset(f"{p}ts:churn:1m:latency", mapping={str(int(old)): "1"})
    r.set(f"{p}ts:churn:snapshot:{int(old)}", "x")
    r.set(f"{p}drift:reference:churn", "kept")
    jobs = tmp_path / "jobs"
    for name, finished in (("old-job", old), ("new-job", fresh)):
        (jobs / name).mkdir(parents=True)
        (jobs / name / "result.json").write_text(
            json.dumps({"finished_at": datetime.fromtimestamp(finished, UTC).isoformat()})
        )
    (jobs / "running-job").mkdir()
    (jobs / "running-job" / "state.json").write_text("{}")

    cfg = CleanupConfig(
        pending_predictions_ttl=timedelta(days=1),
        timeseries_retention=timedelta(days=2),
        finished_jobs=timedelta(days=2),
    )
    removed = cleanup(r, p, cfg, jobs, datetime.fromtimestamp(now, UTC))

    assert removed == {
        "pending_predictions": 3,  # p-old, pending field a, index member a
        "timeseries_points": 2,
        "timeseries_keys": 2,  # the emptied latency hash and the old snapshot
        "finished_jobs": 1,
        "undated": 1,
    }
    left = sorted(k.decode()[len(p) :] for k in r.scan_iter(match=p + "*"))
    assert left == [
        "drift:reference:churn",
        "join:churn:index",
        "join:churn:p-new",
        "join:churn:p-ttl",
        "join:churn:p-undated",
        "join:churn:pending",
        "ts:churn:1m:accuracy",
    ]
    assert r.hkeys(f"{p}join:churn:pending") == [b"b"]
    assert r.zrange(f"{p}join:churn:index", 0, -1) == [b"b"]
    assert r.hkeys(f"{p}ts:churn:1m:accuracy") == [str(int(fresh)).encode()]
    assert sorted(d.name for d in jobs.iterdir()) == ["new-job", "running-job"]
