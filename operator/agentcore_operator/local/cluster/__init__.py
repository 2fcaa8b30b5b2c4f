"""Emulated Kubernetes API server, CRD-aware (dev and test only). See docs/cluster.md."""

from agentcore_operator.local.cluster.server import EmulatedCluster, Serving

__all__ = ["EmulatedCluster", "Serving"]
