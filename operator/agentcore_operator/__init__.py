"""Kubernetes operator for AWS Bedrock AgentCore code interpreter sessions."""
