"""factory_boy's ``mute_signals`` on Django's model signals.

``mute_signals`` saves each signal's ``receivers``, sets it to ``[]``, and on
the way out puts back ``saved + signal.receivers`` and clears
``sender_receivers_cache`` under ``with signal.lock:``. ``pre_save`` and
``post_save`` are ``ModelSignal(use_caching=True)``: native signals with a
per-sender cache under the shim. The models are saved to SQLite through a
``DjangoModelFactory``.
"""

import gc
import weakref

import factory
import pytest
from django.db.models.signals import post_save, pre_save
from factory.django import DjangoModelFactory, mute_signals

from integration.testapp.models import Author, Book

pytestmark = pytest.mark.usefixtures("db")


class AuthorFactory(DjangoModelFactory):
    class Meta:
        model = Author

    name = factory.Sequence(lambda n: f"author {n}")


class BookFactory(DjangoModelFactory):
    class Meta:
        model = Book

    title = factory.Sequence(lambda n: f"book {n}")
    author = factory.SubFactory(AuthorFactory)


@mute_signals(post_save)
class QuietAuthorFactory(AuthorFactory):
    pass


class Recorder:
    """Receivers of every kind on pre_save and post_save, recording
    ``(signal name, receiver name, model name)`` per call."""

    def __init__(self):
        self.calls = []

    def record(self, signal_name, receiver_name, sender):
        self.calls.append((signal_name, receiver_name, sender.__name__))

    def on_post_save(self, sender, **kwargs):
        self.record("post_save", "method", sender)

    def connect(self):
        def pre_save_any(sender, **kwargs):
            self.record("pre_save", "any", sender)

        def post_save_author(sender, instance, created, **kwargs):
            assert isinstance(instance, Author)
            self.record("post_save", "author", sender)

        def post_save_uid(sender, **kwargs):
            self.record("post_save", "uid", sender)

        # Kept alive by the recorder: the function receivers are weak.
        self.receivers = [pre_save_any, post_save_author, post_save_uid]
        pre_save.connect(pre_save_any)
        post_save.connect(post_save_author, sender=Author)
        post_save.connect(self.on_post_save)
        post_save.connect(post_save_uid, weak=False, dispatch_uid="recorder-uid")

    def disconnect(self):
        pre_save_any, post_save_author, _ = self.receivers
        pre_save.disconnect(pre_save_any)
        post_save.disconnect(post_save_author, sender=Author)
        post_save.disconnect(self.on_post_save)
        post_save.disconnect(dispatch_uid="recorder-uid")

    def take(self):
        calls, self.calls = self.calls, []
        return calls


AUTHOR_SAVED = [
    ("pre_save", "any", "Author"),
    ("post_save", "author", "Author"),
    ("post_save", "method", "Author"),
    ("post_save", "uid", "Author"),
]
AUTHOR_PRE_SAVE = [("pre_save", "any", "Author")]
AUTHOR_POST_SAVE = AUTHOR_SAVED[1:]


@pytest.fixture
def recorder():
    recorder = Recorder()
    recorder.connect()
    yield recorder
    recorder.disconnect()


def keys(signal):
    return [entry[0] for entry in signal.receivers]


def test_receivers_are_called_without_muting(recorder):
    author = AuthorFactory()
    assert Author.objects.get(pk=author.pk).name == author.name
    assert recorder.take() == AUTHOR_SAVED
    BookFactory(author=author)
    assert recorder.take() == [
        ("pre_save", "any", "Book"),
        ("post_save", "method", "Book"),
        ("post_save", "uid", "Book"),
    ]


def test_context_manager(recorder):
    AuthorFactory()
    recorder.take()
    post_keys, pre_keys = keys(post_save), keys(pre_save)
    with mute_signals(post_save):
        assert post_save.receivers == []
        assert keys(pre_save) == pre_keys
        author = AuthorFactory()
        assert recorder.take() == AUTHOR_PRE_SAVE
    assert Author.objects.filter(pk=author.pk).exists()
    assert keys(post_save) == post_keys
    assert post_save.has_listeners(Author) is True
    author.save()
    assert recorder.take() == AUTHOR_SAVED


def test_context_manager_restores_after_an_exception(recorder):
    post_keys = keys(post_save)
    with pytest.raises(RuntimeError, match="boom"), mute_signals(pre_save, post_save):
        AuthorFactory()
        raise RuntimeError("boom")
    assert recorder.take() == []
    assert keys(post_save) == post_keys
    AuthorFactory()
    assert recorder.take() == AUTHOR_SAVED


def test_function_decorator(recorder):
    @mute_signals(pre_save, post_save)
    def make_authors(count):
        assert pre_save.receivers == post_save.receivers == []
        return AuthorFactory.create_batch(count)

    assert len(make_authors(3)) == 3
    assert recorder.take() == []
    AuthorFactory()
    assert recorder.take() == AUTHOR_SAVED
    # Reusable: a fresh mute_signals each call.
    make_authors(2)
    assert recorder.take() == []
    assert Author.objects.count() == 6


def test_factory_class_decorator(recorder):
    quiet = QuietAuthorFactory()
    assert isinstance(quiet, Author)
    assert recorder.take() == AUTHOR_PRE_SAVE
    AuthorFactory()
    assert recorder.take() == AUTHOR_SAVED
    QuietAuthorFactory.create_batch(2)
    assert recorder.take() == AUTHOR_PRE_SAVE * 2


def test_nested(recorder):
    post_keys, pre_keys = keys(post_save), keys(pre_save)
    with mute_signals(post_save):
        AuthorFactory()
        assert recorder.take() == AUTHOR_PRE_SAVE
        with mute_signals(pre_save, post_save):
            AuthorFactory()
            assert recorder.take() == []
            with mute_signals(pre_save):
                AuthorFactory()
                assert recorder.take() == []
            AuthorFactory()
            assert recorder.take() == []
        # The inner block gave back only what it took: pre_save.
        assert keys(pre_save) == pre_keys
        assert post_save.receivers == []
        AuthorFactory()
        assert recorder.take() == AUTHOR_PRE_SAVE
    assert keys(post_save) == post_keys
    AuthorFactory()
    assert recorder.take() == AUTHOR_SAVED


def test_receivers_connected_while_muted_are_kept(recorder):
    calls = []

    def late(sender, **kwargs):
        calls.append(sender.__name__)

    post_keys = keys(post_save)
    with mute_signals(post_save):
        post_save.connect(late, sender=Author)
        AuthorFactory()
        assert calls == ["Author"]
        assert recorder.take() == AUTHOR_PRE_SAVE
    # The saved receivers first, then the one connected meanwhile.
    assert keys(post_save) == [*post_keys, keys(post_save)[-1]]
    AuthorFactory()
    assert calls == ["Author", "Author"]
    assert recorder.take() == AUTHOR_SAVED
    assert post_save.disconnect(late, sender=Author) is True
    AuthorFactory()
    assert calls == ["Author", "Author"]


def test_weak_receiver_collected_while_muted(recorder):
    calls = []

    def transient(sender, **kwargs):
        calls.append(sender.__name__)

    count = len(post_save.receivers)
    post_save.connect(transient, sender=Author)
    AuthorFactory()
    assert calls == ["Author"]
    recorder.take()
    transient_ref = weakref.ref(transient)
    with mute_signals(post_save):
        del transient
        gc.collect()
        # mute_signals holds the saved entries, and they did not keep it alive.
        assert transient_ref() is None
    AuthorFactory()
    assert calls == ["Author"]
    assert recorder.take() == AUTHOR_SAVED
    # Swept out by the send, as dead receivers are.
    assert len(post_save.receivers) == count


def test_sender_receivers_cache_cleared_on_restore(recorder):
    # Sends fill the per-sender cache of a caching signal; muting and
    # restoring go around connect(), so mute_signals clears it.
    AuthorFactory()
    recorder.take()
    assert post_save.use_caching is True
    assert post_save.sender_receivers_cache.get(Author) is not None
    with mute_signals(post_save):
        AuthorFactory()
    assert len(post_save.sender_receivers_cache) == 0
    AuthorFactory()
    assert recorder.take() == AUTHOR_PRE_SAVE + AUTHOR_SAVED
