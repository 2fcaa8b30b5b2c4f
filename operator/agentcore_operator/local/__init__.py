"""Dev and test stand-ins: never imported by the production operator."""
