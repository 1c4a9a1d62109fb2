"""Shared benchmark plumbing: fresh databases, real `microcred` processes, timing, memory."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "microcred"
PG_SERVER = os.environ.get("MICROCRED_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
SECRET = "bench-secret-0123456789abcdef0123456789"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def env_for(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MICROCRED_DATABASE_URL=url,
        MICROCRED_JWT_SECRET=SECRET,
        MICROCRED_LOG_LEVEL="WARNING",
        MICROCRED_ENV="production",
    )
    return env


def run(url: str, *args: str) -> str:
    done = subprocess.run(
        [str(BIN), *args], env=env_for(url), stdout=subprocess.PIPE, text=True, check=True
    )
    return done.stdout


@contextmanager
def fresh_database(backend: str, label: str) -> Iterator[str]:
    if backend == "sqlite":
        path = Path(f"/tmp/microcred-bench-{label}-{uuid.uuid4().hex[:6]}.db")
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"microcred_bench_{label}_{uuid.uuid4().hex[:6]}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", name], check=False
        )


def synth(url: str, users: int, modules: int = 20, seed: int = 7) -> dict:
    say(f"  synth --users {users} --modules {modules}")
    started = time.monotonic()
    out = run(url, "synth", "--users", str(users), "--modules", str(modules), "--seed", str(seed))
    say(f"  synth done in {time.monotonic() - started:.1f} s")
    return json.loads(out.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def serve(url: str) -> Iterator[Server]:
    port = free_port()
    log_path = Path(f"/tmp/microcred-bench-serve-{port}.log")
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env_for(url),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"microcred serve did not become ready; see {log_path}")
        yield Server(process, base)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log_file.close()


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak_rss(pid: int) -> None:
    """Writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS (Linux 4.0+)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def summary(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(p99 * 1000, 3),
        "n": len(ordered),
    }
