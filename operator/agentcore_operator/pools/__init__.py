"""CodeInterpreterSessionPool: warm pools of free sessions (issue 17), on the generic reconcile loop."""
