"""Tables, as `kubectl get` asks for them (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`).

The server renders the rows, so kubectl shows a CRD's `additionalPrinterColumns` without
knowing the kind: a list, a single object and every watch event come back as a Table.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from agentcore_operator.local.cluster.jsonpath import evaluate as jsonpath
from agentcore_operator.local.cluster.resources import ResourceType

TABLE_MEDIA = "as=Table"


def wants_table(accept: str) -> bool:
    return TABLE_MEDIA in accept


def human_age(timestamp: str | None) -> str:
    """kubectl's age format: 45s, 3m12s, 25m, 5h3m, 2d4h, 30d."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    seconds = int((datetime.now(UTC) - then).total_seconds())
    if seconds < 0:
        return "<invalid>"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def table(
    resource_type: ResourceType, rows: list[dict[str, Any]], include: str, *, headers: bool = True
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of `rows`; without `headers` it has no columnDefinitions, as the
    API server sends every watch event after the first."""
    columns: list[dict[str, Any]] = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "priority": 0,
            "description": "Name must be unique within a namespace.",
        }
    ]
    cells_of: Any
    if resource_type.printer_columns:
        printer = list(resource_type.printer_columns)
        for column in printer:
            columns.append(
                {
                    "name": column["name"],
                    "type": column.get("type", "string"),
                    "format": column.get("format", ""),
                    "priority": column.get("priority", 0),
                    "description": column.get("description", ""),
                }
            )

        def cells_of(body: dict[str, Any]) -> list[Any]:
            return [body["metadata"]["name"], *(_cell(column, body) for column in printer)]
    elif resource_type.kind == "Event":
        columns = [
            {"name": "Last Seen", "type": "string", "format": "", "priority": 0, "description": ""},
            {"name": "Type", "type": "string", "format": "", "priority": 0, "description": ""},
            {"name": "Reason", "type": "string", "format": "", "priority": 0, "description": ""},
            {"name": "Object", "type": "string", "format": "", "priority": 0, "description": ""},
            {"name": "Message", "type": "string", "format": "", "priority": 0, "description": ""},
        ]

        def cells_of(body: dict[str, Any]) -> list[Any]:
            involved = body.get("involvedObject") or body.get("regarding") or {}
            seen = (
                body.get("lastTimestamp")
                or body.get("eventTime")
                or body["metadata"].get("creationTimestamp")
            )
            return [
                human_age(seen[:19] + "Z" if seen else None),
                body.get("type", ""),
                body.get("reason", ""),
                f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
                body.get("message") or body.get("note", ""),
            ]
    elif resource_type.kind == "Namespace" and not resource_type.group:
        columns.append(
            {
                "name": "Status",
                "type": "string",
                "format": "",
                "priority": 0,
                "description": "The status of the namespace",
            }
        )
        columns.append({"name": "Age", "type": "string", "format": "", "priority": 0, "description": ""})

        def cells_of(body: dict[str, Any]) -> list[Any]:
            return [
                body["metadata"]["name"],
                (body.get("status") or {}).get("phase", ""),
                human_age(body["metadata"].get("creationTimestamp")),
            ]
    else:
        columns.append({"name": "Age", "type": "string", "format": "", "priority": 0, "description": ""})

        def cells_of(body: dict[str, Any]) -> list[Any]:
            return [body["metadata"]["name"], human_age(body["metadata"].get("creationTimestamp"))]

    table_rows = []
    for body in rows:
        if include == "Object":
            obj: dict[str, Any] = body
        elif include == "None":
            obj = {}
        else:
            obj = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": body["metadata"],
            }
        row: dict[str, Any] = {"cells": cells_of(body)}
        if obj:
            row["object"] = obj
        table_rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": columns if headers else None,
        "rows": table_rows,
    }


def _cell(column: dict[str, Any], body: dict[str, Any]) -> Any:
    try:
        values = jsonpath(column["jsonPath"], body)
    except ValueError:
        return "<error>"
    if not values:
        return "<unknown>" if column.get("type") == "date" else None
    value = values[0]
    if column.get("type") == "date":
        return human_age(str(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value
