"""Prometheus metrics, one registry per running app so tests and replicas never share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates_received = Counter(
            "chibo_updates_received", "Inbound updates received", ["platform"], registry=self.registry
        )
        self.updates_handled = Counter(
            "chibo_updates_handled",
            "Inbound updates handled and committed",
            ["platform"],
            registry=self.registry,
        )
        self.updates_rejected = Counter(
            "chibo_updates_rejected",
            "Inbound updates refused or not handled",
            ["platform", "reason"],
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "chibo_handler_seconds",
            "Time to handle one update, transaction included",
            ["platform"],
            registry=self.registry,
        )
        self.messages_sent = Counter(
            "chibo_messages_sent", "Outbound messages delivered", ["platform"], registry=self.registry
        )
        self.messages_failed = Counter(
            "chibo_messages_failed",
            "Outbound messages given up on",
            ["platform", "reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "chibo_rate_limited",
            "Times a platform answered 429 and sending paused",
            ["platform"],
            registry=self.registry,
        )
