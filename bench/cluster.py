"""Emulated cluster at 10,000 objects: create, get, list, patch and watch rates, as a table.

.venv/bin/python bench/cluster.py [--objects 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp
from agentcore_operator.local.cluster.testing import running_cluster

CIS = "/apis/agentcore.dev/v1alpha1/namespaces/default/codeinterpretersessions"


def manifest(index: int) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": f"s{index:05}", "labels": {"shard": str(index % 10)}},
        "spec": {"sessionTimeoutSeconds": 3600},
    }


async def timed(label: str, count: int, work: Any, rows: list[tuple[str, str, str]]) -> None:
    began = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - began
    rows.append(
        (label, f"{count:,}", f"{count / elapsed:,.0f}/s" if count > 1 else f"{elapsed * 1000:,.0f} ms")
    )


async def run(url: str, objects: int) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=32)) as http:
        semaphore = asyncio.Semaphore(32)

        async def each(count: int, call: Any) -> None:
            async def one(index: int) -> None:
                async with semaphore:
                    await call(index)

            await asyncio.gather(*(one(i) for i in range(count)))

        async def create(i: int) -> None:
            async with http.post(CIS, json=manifest(i)) as response:
                assert response.status == 201, await response.text()

        async def get(i: int) -> None:
            async with http.get(f"{CIS}/s{i:05}") as response:
                assert response.status == 200

        async def patch(i: int) -> None:
            body = json.dumps({"status": {"phase": "Ready", "sessionId": f"S{i}"}})
            headers = {"Content-Type": "application/merge-patch+json"}
            async with http.patch(f"{CIS}/s{i:05}/status", data=body, headers=headers) as response:
                assert response.status == 200

        async def list_all() -> None:
            async with http.get(CIS) as response:
                assert len((await response.json())["items"]) == objects

        async def list_selected() -> None:
            async with http.get(CIS, params={"labelSelector": "shard=3"}) as response:
                assert len((await response.json())["items"]) == objects // 10

        await timed("create (POST, schema + CEL)", objects, lambda: each(objects, create), rows)
        await timed("get by name", objects, lambda: each(objects, get), rows)
        await timed(f"list all {objects:,}", 1, list_all, rows)
        await timed("list with labelSelector (1/10)", 1, list_selected, rows)

        async with http.get(CIS) as response:
            version = (await response.json())["metadata"]["resourceVersion"]
        received = 0

        async def watch() -> None:
            nonlocal received
            params = {"watch": "true", "resourceVersion": version}
            async with http.get(CIS, params=params, timeout=aiohttp.ClientTimeout(total=None)) as stream:
                async for line in stream.content:
                    if line.strip():
                        received += 1
                        if received >= objects:
                            return

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.2)
        began = time.perf_counter()
        await timed("status patch (merge)", objects, lambda: each(objects, patch), rows)
        await asyncio.wait_for(watcher, 120)
        rate = received / (time.perf_counter() - began)
        rows.append(("watch events (during the patches)", f"{received:,}", f"{rate:,.0f}/s"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=10_000)
    args = parser.parse_args()
    with running_cluster() as cluster:
        rows = asyncio.run(run(cluster.url, args.objects))
    rows.insert(0, ("operation", "count", "rate"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
