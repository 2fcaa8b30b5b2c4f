"""Local stand-in for the AgentCore code interpreter APIs (dev and test only)."""
