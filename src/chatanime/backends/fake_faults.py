"""The fault kinds the fake server can inject, apart from the server itself.

``chatanime fake-server --help`` lists them; keeping them in a module with no imports
lets the CLI print that help without loading the server, pydantic or the behaviours.
"""

from __future__ import annotations

from typing import Literal, get_args

Fault = Literal["429", "500", "503", "400", "401", "timeout", "malformed", "empty", "drop"]
FAULTS: tuple[str, ...] = get_args(Fault)
