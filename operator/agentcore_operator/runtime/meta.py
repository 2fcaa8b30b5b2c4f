"""What every kind's decision reads of a resource's metadata, read once, the same way."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class ResourceMeta:
    """Identity, generation and the deletion state of one resource, for a pure `decide()`."""

    uid: str
    namespace: str
    name: str
    generation: int = 1
    deleting: bool = False
    has_finalizer: bool = True

    @classmethod
    def of(cls, body: dict[str, Any], finalizer: str) -> ResourceMeta:
        meta = body.get("metadata") or {}
        return cls(
            uid=str(meta.get("uid", "")),
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            generation=int(meta.get("generation") or 1),
            deleting=bool(meta.get("deletionTimestamp")),
            has_finalizer=finalizer in (meta.get("finalizers") or ()),
        )

    def finalized(self) -> ResourceMeta:
        """The same, once the loop has added the finalizer."""
        return replace(self, has_finalizer=True)
