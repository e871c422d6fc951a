"""An in-memory sentry-sdk transport for the sentry tests: nothing leaves
the process, and the signal spans of a transaction can be read back."""

import sentry_sdk
from sentry_sdk.transport import Transport

# The op of the span sentry-sdk's Django integration opens around a receiver.
SIGNAL_OP = "event.django"


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
