"""ObjectMeta validation common to every kind: the name and the label/annotation maps."""

from __future__ import annotations

import json
import re
from typing import Any

from agentcore_operator.local.cluster import schema as schemas
from agentcore_operator.local.cluster.errors import invalid
from agentcore_operator.local.cluster.resources import EVENT_TYPE, NAMESPACE_TYPE, ResourceType

DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN_HELP = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def check(resource_type: ResourceType, body: dict[str, Any]) -> None:
    """The name (RFC 1123: a label for namespaces, a subdomain otherwise, events exempt) and that
    labels and annotations are maps of strings, as the API server's ObjectMeta validation has it."""
    meta = body["metadata"]
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise invalid(
            resource_type,
            "",
            [
                schemas.FieldError(
                    "metadata.name",
                    "FieldValueRequired",
                    "Required value: name or generateName is required",
                )
            ],
        )
    pattern = DNS_LABEL_RE if resource_type is NAMESPACE_TYPE else DNS_SUBDOMAIN_RE
    limit = 63 if resource_type is NAMESPACE_TYPE else 253
    problems = []
    if len(name) > limit:
        problems.append(
            schemas.FieldError(
                "metadata.name",
                "FieldValueInvalid",
                f"Invalid value: {json.dumps(name)}: must be no more than {limit} characters",
            )
        )
    if resource_type is not EVENT_TYPE and not pattern.match(name):
        problems.append(
            schemas.FieldError(
                "metadata.name",
                "FieldValueInvalid",
                f"Invalid value: {json.dumps(name)}: {SUBDOMAIN_HELP}",
            )
        )
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and (
            not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())
        ):
            problems.append(
                schemas.FieldError(
                    f"metadata.{key}",
                    "FieldValueTypeInvalid",
                    f"Invalid value: {key} must be a map of strings",
                )
            )
    if problems:
        raise invalid(resource_type, name, problems)
