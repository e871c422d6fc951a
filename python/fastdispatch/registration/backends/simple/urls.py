"""URLconf of the one-phase workflow, included under a prefix of the project's:
``path("accounts/", include("fastdispatch.registration.backends.simple.urls"))``."""

from fastdispatch.registration.urls import registration_patterns

BACKEND = "fastdispatch.registration.backends.simple.SimpleBackend"

urlpatterns = registration_patterns(BACKEND)
