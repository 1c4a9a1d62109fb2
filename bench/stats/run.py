"""Comparison Stats at district scale, measured side by side in one run.

    .venv/bin/python -m bench.stats.run                       # the full matrix (slow: 1M users)
    .venv/bin/python -m bench.stats.run --sizes sqlite:10000,postgresql:10000 --requests 200

For each (backend, users): a fresh database filled by `microcred synth`, a real
`microcred serve`, and over HTTP the dashboard query (comparisonStats at Literacy and Fluency,
all modules and one module): median and p99 latency, and throughput with concurrent clients.
Beside it, in the same run, two floors computed in this process through the raw driver
(asyncpg / aiosqlite), each a single SQL statement giving the same numbers:
  - "naive": from the raw tables (users, memberships, statuses), as a report would;
  - "counters": from microcred's own counter tables, the least work possible.
At the largest size of each backend, the individual-results CSV export of the district:
time and peak RSS growth of the server, next to PostgreSQL's COPY ... TO STDOUT of the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import asyncpg
import httpx

from bench.common import (
    ROOT,
    fresh_database,
    reset_peak_rss,
    rss_kib,
    run,
    say,
    serve,
    summary,
    synth,
)
from resolvers.ids import encode_id

DASHBOARD = """query($m: ID, $l: Level!) { comparisonStats(moduleId: $m, level: $l) {
  statsExcluded personal { notStarted inProgress complete total }
  district { scope { kind id name canViewIndividualResults } countedUsers moduleCount
    counts { notStarted inProgress complete total notStartedPercent inProgressPercent
             completePercent } }
  schools { scope { kind id name canViewIndividualResults } countedUsers moduleCount
    counts { notStarted inProgress complete total notStartedPercent inProgressPercent
             completePercent } }
  cohorts { scope { kind id name canViewIndividualResults } countedUsers moduleCount
    counts { notStarted inProgress complete total notStartedPercent inProgressPercent
             completePercent } } } }"""

COUNTED = (
    "u.first_login_at IS NOT NULL AND (u.stats_inclusion = 'INCLUDE' OR "
    "(u.stats_inclusion = 'DEFAULT' AND NOT u.dcf_access))"
)


def _uses(param: str) -> str:
    """A true condition that still takes the module parameter, so every variant of a floor
    accepts the same arguments (typed, for PostgreSQL)."""
    return f"CAST({param} AS INTEGER) = CAST({param} AS INTEGER)"


def naive_sql(one_module: bool, ph: Callable[[int], str]) -> str:
    """Scopes' populations and counts plus the viewer's statuses, from the raw tables."""
    d, v, lvl, m = ph(1), ph(2), ph(3), ph(4)
    module_filter = (
        f"AND ms.module_id = {m}"
        if one_module
        else (
            f"AND ms.module_id IN (SELECT mo.id FROM modules mo WHERE (mo.district_id IS NULL OR "
            f"mo.district_id = {d}) AND ({lvl} = 'LITERACY' OR EXISTS (SELECT 1 FROM pages p "
            f"WHERE p.module_id = mo.id AND p.level = 'FLUENCY'))) AND {_uses(m)}"
        )
    )
    return f"""
    WITH counted AS (SELECT u.id FROM users u WHERE u.district_id = {d} AND {COUNTED}),
    scoped AS (
      SELECT 0 AS scope_id, c.id AS user_id FROM counted c
      UNION ALL
      SELECT m.group_id, m.user_id FROM memberships m JOIN counted c ON c.id = m.user_id
      WHERE m.district_id = {d} AND m.role = 'MEMBER' AND m.group_id IN
        (SELECT group_id FROM memberships WHERE district_id = {d} AND user_id = {v})
    )
    SELECT s.scope_id, COUNT(DISTINCT s.user_id),
      SUM(CASE WHEN ms.status = 'IN_PROGRESS' THEN 1 ELSE 0 END),
      SUM(CASE WHEN ms.status = 'COMPLETE' THEN 1 ELSE 0 END)
    FROM scoped s LEFT JOIN module_statuses ms
      ON ms.district_id = {d} AND ms.user_id = s.user_id AND ms.level = {lvl} {module_filter}
    GROUP BY s.scope_id
    UNION ALL
    SELECT -1, COUNT(*), SUM(CASE WHEN ms.status = 'IN_PROGRESS' THEN 1 ELSE 0 END),
      SUM(CASE WHEN ms.status = 'COMPLETE' THEN 1 ELSE 0 END)
    FROM module_statuses ms WHERE ms.district_id = {d} AND ms.user_id = {v}
      AND ms.level = {lvl} {module_filter}
    """


def counters_sql(one_module: bool, ph: Callable[[int], str]) -> str:
    """The same numbers from the counter tables (plus the viewer's statuses)."""
    d, v, lvl, m = ph(1), ph(2), ph(3), ph(4)
    scopes = (
        f"(SELECT 0 UNION ALL SELECT group_id FROM memberships "
        f"WHERE district_id = {d} AND user_id = {v})"
    )
    module_filter = (
        f"AND module_id = {m}" if one_module else f"AND CAST({m} AS INTEGER) = CAST({m} AS INTEGER)"
    )
    return f"""
    SELECT scope_id, NULL, counted, NULL FROM stats_populations
      WHERE district_id = {d} AND scope_id IN {scopes}
    UNION ALL
    SELECT scope_id, module_id, in_progress, complete FROM stats_counts
      WHERE district_id = {d} AND level = {lvl} AND scope_id IN {scopes} {module_filter}
    UNION ALL
    SELECT -1, module_id, CASE status WHEN 'COMPLETE' THEN 2 ELSE 1 END, NULL FROM module_statuses
      WHERE district_id = {d} AND user_id = {v} AND level = {lvl} {module_filter}
    """


async def measure(
    call: Callable[[int], Awaitable[Any]], requests: int, concurrency: int, budget_s: float = 20.0
) -> dict[str, float]:
    """Latency one request at a time, then throughput with `concurrency` clients. Each phase
    stops after `requests` calls or `budget_s` seconds, whichever comes first (a slow floor at
    1M users would otherwise take hours); at least 5 calls are always made."""
    for i in range(min(5, requests)):
        await call(i)
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for i in range(requests):
        started = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - started)
        if time.perf_counter() > deadline and len(samples) >= 5:
            break
    result = summary(samples)
    done = 0
    deadline = time.perf_counter() + budget_s

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        while done < requests * 2 and (time.perf_counter() < deadline or done < 5):
            await call(i)
            done += 1
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    result["throughput_rps"] = round(done / (time.perf_counter() - started), 2)
    return result


async def keys_to_ids(backend: str, url: str, info: dict) -> dict[str, int]:
    sql = (
        "SELECT (SELECT id FROM districts WHERE key = {0}), (SELECT id FROM users WHERE key = {1}),"
        " (SELECT mo.id FROM modules mo JOIN pages p ON p.module_id = mo.id "
        "  WHERE p.level = 'FLUENCY' AND (mo.district_id IS NULL OR mo.district_id = "
        "  (SELECT id FROM districts WHERE key = {0})) ORDER BY mo.id LIMIT 1)"
    )
    if backend == "sqlite":
        async with aiosqlite.connect(url.split("///", 1)[1]) as conn:
            cursor = await conn.execute(
                sql.format(":d", ":m"), {"d": info["district"], "m": info["member"]}
            )
            row = await cursor.fetchone()
    else:
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        row = await conn.fetchrow(sql.format("$1", "$2"), info["district"], info["member"])
        await conn.close()
    return {"district": row[0], "member": row[1], "module": row[2]}


async def floors(backend: str, url: str, ids: dict[str, int], requests: int, conc: int) -> dict:
    variants = [(lvl, one) for lvl in ("LITERACY", "FLUENCY") for one in (False, True)]
    out: dict[str, Any] = {}
    for name, build in (("naive", naive_sql), ("counters", counters_sql)):
        if backend == "sqlite":
            conns = [await aiosqlite.connect(url.split("///", 1)[1]) for _ in range(conc)]
            sqls = {(lvl, one): build(one, lambda n: f":p{n}") for lvl, one in variants}

            async def call(i: int, conns=conns, sqls=sqls) -> Any:
                lvl, one = variants[i % len(variants)]
                params = {
                    "p1": ids["district"],
                    "p2": ids["member"],
                    "p3": lvl,
                    "p4": ids["module"],
                }
                async with conns[i % conc].execute(sqls[(lvl, one)], params) as cur:
                    return await cur.fetchall()
        else:
            pool = await asyncpg.create_pool(
                url.replace("+asyncpg", ""), min_size=conc, max_size=conc
            )
            sqls = {(lvl, one): build(one, lambda n: f"${n}") for lvl, one in variants}

            async def call(i: int, pool=pool, sqls=sqls) -> Any:
                lvl, one = variants[i % len(variants)]
                return await pool.fetch(
                    sqls[(lvl, one)], ids["district"], ids["member"], lvl, ids["module"]
                )

        say(f"  floor {name}: {requests} requests, then {conc} concurrent clients")
        out[name] = await measure(call, requests, conc)
        if backend == "sqlite":
            for c in conns:
                await c.close()
        else:
            await pool.close()
    return out


async def http(base: str, token: str, module_gid: str, requests: int, conc: int) -> dict:
    variants = [{"l": lvl, "m": m} for lvl in ("LITERACY", "FLUENCY") for m in (None, module_gid)]
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        headers = {"Authorization": f"Bearer {token}"}

        async def call(i: int) -> Any:
            reply = await client.post(
                "/graphql",
                json={"query": DASHBOARD, "variables": variants[i % len(variants)]},
                headers=headers,
            )
            body = reply.json()
            assert "errors" not in body, body
            return body

        say(f"  HTTP dashboard: {requests} requests, then {conc} concurrent clients")
        return await measure(call, requests, conc)


async def csv_export(backend: str, url: str, server: Any, info: dict, ids: dict) -> dict:
    token = run(url, "token", info["manager"]).strip()
    module_gid = encode_id("Module", ids["module"])
    params = {"scope": "district", "level": "LITERACY", "module": module_gid}
    rss_before = rss_kib(server.pid)
    reset_peak_rss(server.pid)
    rows = 0
    started = time.perf_counter()
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=600) as client,
        client.stream(
            "GET",
            "/export/individual-results.csv",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        ) as reply,
    ):
        assert reply.status_code == 200
        async for _line in reply.aiter_lines():
            rows += 1
    took = time.perf_counter() - started
    result: dict[str, Any] = {
        "rows": rows - 1,
        "seconds": round(took, 3),
        "peak_rss_growth_mb": round((rss_kib(server.pid, "VmHWM") - rss_before) / 1024, 1),
    }
    if backend == "postgresql":
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        query = (
            "SELECT u.key, u.name, COALESCE(ms.status, 'NOT_STARTED'), "
            "u.first_login_at IS NOT NULL FROM users u LEFT JOIN module_statuses ms "
            "ON ms.district_id = u.district_id AND ms.user_id = u.id "
            f"AND ms.module_id = {ids['module']} AND ms.level = 'LITERACY' "
            f"WHERE u.district_id = {ids['district']} AND (u.stats_inclusion = 'INCLUDE' OR "
            "(u.stats_inclusion = 'DEFAULT' AND NOT u.dcf_access)) "
            "ORDER BY u.name, u.id"
        )

        class Sink:
            size = 0

            async def write(self, data: bytes) -> None:
                Sink.size += len(data)

        started = time.perf_counter()
        await conn.copy_from_query(query, output=Sink().write, format="csv", header=True)
        result["copy_seconds"] = round(time.perf_counter() - started, 3)
        result["ratio_to_copy"] = round(took / result["copy_seconds"], 2)
        await conn.close()
    return result


async def bench_size(backend: str, users: int, requests: int, conc: int, csv: bool) -> dict:
    say(f"== {backend}, {users} users ==")
    with fresh_database(backend, f"{users}") as url:
        run(url, "migrate")
        started = time.monotonic()
        info = synth(url, users)
        synth_s = time.monotonic() - started
        ids = await keys_to_ids(backend, url, info)
        token = run(url, "token", info["member"]).strip()
        with serve(url) as server:
            result = {
                "backend": backend,
                "users": users,
                "district_users": info["users"],
                "synth_seconds": round(synth_s, 1),
                "http": await http(
                    server.base_url, token, encode_id("Module", ids["module"]), requests, conc
                ),
            }
            result["floors"] = await floors(backend, url, ids, requests, conc)
            if csv:
                say("  individual results CSV of the district")
                result["csv"] = await csv_export(backend, url, server, info, ids)
    say(json.dumps(result))
    return result


def report(results: list[dict]) -> str:
    lines = [
        "| backend | users | HTTP median ms | HTTP p99 ms | HTTP rps | naive floor median ms | "
        "naive rps | counters floor median ms | counters rps | HTTP rps / naive rps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        h, n, c = r["http"], r["floors"]["naive"], r["floors"]["counters"]
        lines.append(
            f"| {r['backend']} | {r['users']:,} | {h['median_ms']} | {h['p99_ms']} | "
            f"{h['throughput_rps']} | {n['median_ms']} | {n['throughput_rps']} | "
            f"{c['median_ms']} | {c['throughput_rps']} | "
            f"{h['throughput_rps'] / n['throughput_rps']:.2f} |"
        )
    by_backend: dict[str, list[dict]] = {}
    for r in results:
        by_backend.setdefault(r["backend"], []).append(r)
    lines.append("")
    for backend, rows in by_backend.items():
        rows.sort(key=lambda r: r["users"])
        base = rows[0]
        for r in rows[1:]:
            ratio = r["http"]["median_ms"] / base["http"]["median_ms"]
            lines.append(
                f"- {backend}: median dashboard latency at {r['users']:,} users is "
                f"{ratio:.2f}x that at {base['users']:,} (target <= 1.3)"
            )
    for r in results:
        if "csv" in r:
            c = r["csv"]
            extra = (
                f", COPY {c['copy_seconds']} s, ratio {c['ratio_to_copy']} (target <= 2)"
                if "copy_seconds" in c
                else ""
            )
            lines.append(
                f"- {r['backend']} {r['users']:,} users: individual-results CSV of {c['rows']:,} "
                f"rows in {c['seconds']} s, peak RSS growth {c['peak_rss_growth_mb']} MB "
                f"(target < 50){extra}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="sqlite:10000,sqlite:100000,postgresql:10000,postgresql:100000,postgresql:1000000",
    )
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    sizes = [(b, int(n)) for b, n in (s.split(":") for s in args.sizes.split(","))]
    largest = {b: max(n for bb, n in sizes if bb == b) for b, _ in sizes}
    results = []
    for backend, users in sizes:
        results.append(
            asyncio.run(
                bench_size(
                    backend,
                    users,
                    args.requests,
                    args.concurrency,
                    csv=(users == largest[backend] and users >= 100_000)
                    or (users == min(n for bb, n in sizes if bb == backend) and len(sizes) == 1),
                )
            )
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"stats-{stamp}.json").write_text(json.dumps(results, indent=1))
    print(report(results))
    command = " ".join([".venv/bin/python", "-m", "bench.stats.run", *sys.argv[1:]])
    print(f"\n(command: {command})")


if __name__ == "__main__":
    main()
