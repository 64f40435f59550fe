"""Channel adapters: each translates one platform's updates into events and replies into messages.

``base.py`` is the contract every platform meets; ``registry.py`` lists them (and says how to add
one); ``specs/`` holds what the app and the settings know of each without importing its adapter.
"""
