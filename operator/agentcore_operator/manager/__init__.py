"""The manager: configuration, process wiring, health and metrics (kubebuilder config/manager)."""
