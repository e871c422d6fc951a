"""In-place changes to a signal's internals, as code in the wild makes them."""

import pytest
from conftest import Signal
from test_signal_misc import Sender, make_receiver


# Code in the wild empties and restores ``receivers`` in place.
def test_receivers_list_cleared_in_place():
    signal = Signal()
    handler = make_receiver("original")
    signal.connect(handler)
    signal.receivers.clear()
    assert signal.receivers == []
    assert signal.has_listeners() is False
    assert signal.send(None) == []


@pytest.mark.parametrize("use_caching", [False, True])
def test_receivers_slice_assignment_and_cache_clear(use_caching):
    signal = Signal(use_caching=use_caching)
    first, second = make_receiver(1), make_receiver(2)
    signal.connect(first)
    assert signal.send(Sender) == [(first, 1)]
    saved = list(signal.receivers)
    signal.receivers[:] = []
    assert signal.send(Sender) == []
    signal.connect(second)
    assert signal.send(Sender) == [(second, 2)]
    signal.receivers[:] = saved
    signal.sender_receivers_cache.clear()
    assert signal.send(Sender) == [(first, 1)]
    assert len(signal.receivers) == 1


@pytest.mark.parametrize("use_caching", [False, True])
def test_sender_receivers_cache_can_be_cleared(use_caching):
    signal = Signal(use_caching=use_caching)
    handler = make_receiver("ok")
    signal.connect(handler)
    assert signal.send(Sender) == [(handler, "ok")]
    signal.sender_receivers_cache.clear()
    assert signal.send(Sender) == [(handler, "ok")]
