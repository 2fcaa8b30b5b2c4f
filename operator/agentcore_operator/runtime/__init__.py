"""Generic machinery written once: error classes, backoff, rate limiting, clocks."""
