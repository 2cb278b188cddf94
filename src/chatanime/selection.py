"""How a person names a selection in one line of text: ``"human, gpt-4.1"``.

Every front end (the CLI's options, the web app's study forms) reads such lists the same
way. Kept apart from the modules that use the names, and free of heavy imports, so the
CLI can define its options without loading the libraries behind its commands.
"""

from __future__ import annotations


def parse_names(text: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``: blanks around and between commas are ignored."""
    return tuple(x.strip() for x in text.split(",") if x.strip())
