"""RabbitMQ on loopback for the workers' tests: a throwaway virtual host per test (made and removed with
rabbitmqctl), and real ``likeness worker`` processes started against it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BROKER_HOST = os.environ.get("LIKENESS_TEST_RABBITMQ", "guest:guest@127.0.0.1:5672")
READY_TIMEOUT_S = 180


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def missing() -> str | None:
    """Why RabbitMQ cannot be used here, or None."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed"
    try:
        rabbitmqctl("status")
    except (subprocess.SubprocessError, OSError) as error:
        return f"RabbitMQ does not answer rabbitmqctl: {error}"
    return None


@contextmanager
def virtual_host() -> Iterator[str]:
    """A new empty virtual host, removed afterwards → its ``amqp://`` URL."""
    name = f"likeness-test-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, BROKER_HOST.split(":")[0], ".*", ".*", ".*")
        yield f"amqp://{BROKER_HOST}/{name}"
    finally:
        rabbitmqctl("delete_vhost", name)


def consumers(broker_url: str, queue: str) -> int:
    """How many consumers ``queue`` has now (0 where it is not declared yet)."""
    from kombu import Connection

    with Connection(broker_url, connect_timeout=10) as connection:
        channel = connection.channel()
        try:
            return channel.queue_declare(queue=queue, passive=True).consumer_count
        except Exception:  # not declared yet: the channel is closed by the broker
            return 0


@contextmanager
def workers(count: int, env: dict[str, str], logs: Path,
            queues: str = "analysis") -> Iterator[list[subprocess.Popen]]:
    """``count`` ``likeness worker --concurrency 1 --queues QUEUES`` processes, each consuming every one of
    ``queues`` before this yields; stopped afterwards (SIGTERM, then SIGKILL)."""
    likeness = Path(sys.executable).with_name("likeness")
    started, first = [], len(list(logs.glob("worker-*.log")))
    try:
        for number in range(first, first + count):
            with open(logs / f"worker-{number}.log", "wb") as log:
                started.append(subprocess.Popen([str(likeness), "worker", "--concurrency", "1", "--queues", queues],
                                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + READY_TIMEOUT_S
        while any(consumers(env["LIKENESS_BROKER_URL"], queue) < count for queue in queues.split(",")):
            dead = [process for process in started if process.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"workers did not start: {(logs / f'worker-{first}.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield started
    finally:
        for process in started:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the worker's process group (Celery's warm shutdown), SIGKILL after 60 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
