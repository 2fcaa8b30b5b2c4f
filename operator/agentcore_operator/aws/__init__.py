"""The AWS adapter: the only code that calls boto3."""
