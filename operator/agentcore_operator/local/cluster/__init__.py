"""Emulated Kubernetes API server, CRD-aware (dev and test only)."""
