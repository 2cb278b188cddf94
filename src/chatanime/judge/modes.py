"""Names of judging modes that a front end needs before it loads any judge.

``chatanime judge`` registers its ``--mode`` handlers when the CLI starts; the name of the
pairwise mode lives here, not only in :mod:`chatanime.judge.pairwise` (which pulls in the
runner, the store and the model clients), so registering it costs nothing.
"""

from __future__ import annotations

PAIRWISE_VS_FANS = "pairwise-vs-fans"
"""A system's dialogue against the fans', both orders (:mod:`chatanime.judge.pairwise`)."""
