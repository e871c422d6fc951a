"""``signal.send(...)`` as the interpreter runs it.

From Python 3.11 on, CPython specializes a method load on an instance by its
type's layout. A signal has a ``__dict__`` slot (attributes can be set on it,
as on Django's): 3.11 specializes ``signal.send`` only when the instance's
dict is made, 3.12 and 3.13 only while it is not. Python 3.11 and 3.12 make
it with every instance, so on 3.12 fastdispatch gives the new, empty dict
back. Without a specialized load, every ``signal.send`` looks ``send`` up in
full, a tenth of the time of a send with one receiver.
"""

import dis
import sys

import pytest
from fastdispatch import Signal


class ModelSignalLike(Signal):
    """A Python subclass, as Django's ``ModelSignal`` is."""


def send_many(signal):
    for _ in range(100):
        signal.send(sender=None)


def specialized_load():
    if sys.version_info < (3, 12):
        return "LOAD_METHOD_WITH_DICT"
    return "LOAD_ATTR_METHOD_LAZY_DICT"


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10 does not specialize instructions"
)
@pytest.mark.parametrize("signal_type", [Signal, ModelSignalLike])
def test_send_is_a_specialized_method_load(signal_type):
    signal = signal_type()
    for _ in range(3):  # past the instruction's warm-up
        send_many(signal)
    loads = [
        instruction.opname
        for instruction in dis.get_instructions(send_many, adaptive=True)
        if instruction.argval == "send"
    ]
    assert loads == [specialized_load()]


def test_the_dict_is_there_when_asked_for():
    signal = ModelSignalLike()
    assert signal.__dict__ == {}
    signal.label = "orders"
    assert signal.__dict__ == {"label": "orders"}
    assert vars(ModelSignalLike()) == {}
