"""An in-memory sentry-sdk transport for the sentry tests: nothing leaves
the process, and the signal spans of a transaction can be read back."""

import sentry_sdk
from sentry_sdk.transport import Transport

# The op of the span sentry-sdk's Django integration opens around a receiver.
SIGNAL_OP = "event.django"


def init_sentry(**integration_options):
    """Initialise the SDK with the Django integration alone (its options
    given), traces always sampled, events kept in memory; returns the
    transport."""
    from sentry_sdk.integrations.django import DjangoIntegration

    transport = MemoryTransport()
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",
        transport=transport,
        traces_sample_rate=1.0,
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[DjangoIntegration(**integration_options)],
    )
    return transport


class MemoryTransport(Transport):
    """Keeps the envelopes the SDK would send."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def transaction(self, name):
        sentry_sdk.flush()
        [event] = [
            event
            for event in (e.get_transaction_event() for e in self.envelopes)
            if event is not None and event.get("transaction") == name
        ]
        return event

    def signal_spans(self, name):
        """``(op, description)`` of the transaction's signal spans, in order."""
        spans = self.transaction(name)["spans"]
        for span in spans:
            if span["op"] == SIGNAL_OP:
                assert span["data"]["signal"] == span["description"]
        return [
            (span["op"], span["description"])
            for span in spans
            if span["op"] == SIGNAL_OP
        ]
