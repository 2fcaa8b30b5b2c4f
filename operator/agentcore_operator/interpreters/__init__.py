"""The CodeInterpreter kind: its decision table, its AgentCore calls, its binding to the loop."""
