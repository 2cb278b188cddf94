"""Errors that the CLI turns into one clear message and exit code 2 (no traceback)."""


class DataError(Exception):
    """Input data is missing, malformed or inconsistent; the message names where."""
