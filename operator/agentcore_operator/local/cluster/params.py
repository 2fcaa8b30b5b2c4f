"""Query parameters as the API server converts them.

A boolean parameter (`watch`, `allowWatchBookmarks`) is false only when it is "0" or
"false" in any case, and true for any other value that is present: apimachinery's
Convert_Slice_string_To_bool. Clients rely on it: the kubernetes Python client sends
`watch=True`.
"""

from __future__ import annotations


def query_flag(value: str | None) -> bool:
    if value is None:
        return False
    return value != "0" and value.lower() != "false"
