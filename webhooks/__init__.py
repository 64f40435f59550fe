"""The HTTP surface: platform webhooks, the web chat, /healthz and /metrics."""
