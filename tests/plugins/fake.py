"""Fake OpenAI-compatible server fixtures (filled in by the backends work)."""
