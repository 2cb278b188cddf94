"""The unit of the ChatAnime data: one two-round dialogue of one system."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TurnSources(BaseModel):
    """Where each turn came from, e.g. ``release``, ``model:deepseek/deepseek-chat``,
    ``user-sim:openai/gpt-4.1``, ``human:<respondent id>``.

    Kept because round 2 of a generated dialogue is only comparable with the
    release's round 2 when one knows who wrote the question it answers.
    """

    model_config = ConfigDict(frozen=True)

    q1: str = "release"
    a1: str = "release"
    q2: str = "release"
    a2: str = "release"


class Dialogue(BaseModel):
    """One system's two-round dialogue for one character and scenario."""

    model_config = ConfigDict(frozen=True)

    system: str = Field(min_length=1)
    character: str = Field(min_length=1)  # slug
    scenario: int = Field(ge=1)
    q1: str
    a1: str
    q2: str
    a2: str
    sources: TurnSources = TurnSources()

    def answer(self, round_: int) -> str:
        """The answer of round 1 or 2."""
        return self.a1 if round_ == 1 else self.a2

    def question(self, round_: int) -> str:
        """The user's turn of round 1 or 2."""
        return self.q1 if round_ == 1 else self.q2

    def to_release_record(self) -> dict[str, object]:
        """The release's JSON shape for one dialogue."""
        return {
            "dialog_id": self.scenario,
            "question_r1": self.q1,
            "answer_r1": self.a1,
            "question_r2": self.q2,
            "answer_r2": self.a2,
        }
