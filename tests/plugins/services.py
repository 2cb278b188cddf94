"""PostgreSQL and Chromium fixtures (filled in by the services work)."""
