"""Model backends: one ``ChatModel`` seam, provider adapters, and policy wrappers.

- :mod:`.base` — the ``ChatModel`` protocol, messages, params, errors.
- :mod:`.registry` — ``get_model("provider/model")`` from :mod:`.presets`.
- :mod:`.openai_compat`, :mod:`.anthropic` — provider adapters.
- :mod:`.retry`, :mod:`.ratelimit` — ``RetryingModel`` / ``RateLimitedModel`` wrappers.
- :mod:`.fake_server`, :mod:`.fake_behaviours`, :mod:`.fake_wire` — the offline fake server.

Compose policy outside-in, so every attempt (retries included) waits for the limiter::

    name = "deepseek/deepseek-chat"
    limiter = limiter_for(provider_of(name), rpm=500, tpm=None)
    model = RetryingModel(RateLimitedModel(get_model(name), limiter), RetryPolicy())

Nothing is imported here, so importing the errors in :mod:`.base` stays cheap: the
``openai`` SDK loads with :mod:`.registry`, ``anthropic`` only when a Claude model is built.
"""
