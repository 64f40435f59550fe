"""Channel adapters: each translates one platform's updates into events and replies into messages."""
