"""API types: the typed mirror of the CRDs in crds/."""
