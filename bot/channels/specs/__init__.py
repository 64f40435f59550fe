"""What the app, the settings and delivery know of each platform without importing its adapter:
its name, limits, settings constants and webhook path, and how to open it (``bot/channels/base.py``)."""
