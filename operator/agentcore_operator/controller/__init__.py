"""The reconciler: the pure session state machine and the wiring that feeds it."""
