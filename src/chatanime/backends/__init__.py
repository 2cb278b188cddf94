"""Model backends: one ``ChatModel`` seam, provider adapters, and policy wrappers.

- :mod:`.base` — the ``ChatModel`` protocol, messages, params, errors.
- :mod:`.registry` — ``get_model("provider/model")`` from :mod:`.presets`.
- :mod:`.openai_compat`, :mod:`.anthropic` — provider adapters.
- :mod:`.retry`, :mod:`.ratelimit` — ``RetryingModel`` / ``RateLimitedModel`` wrappers.
- :mod:`.fake_server`, :mod:`.fake_behaviours`, :mod:`.fake_wire` — the offline fake server.

Nothing is imported here, so importing the errors in :mod:`.base` stays cheap (the
SDKs are only loaded when a model is built).
"""
