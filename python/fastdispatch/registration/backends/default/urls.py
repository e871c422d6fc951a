"""URLconf of the two-phase workflow, included under a prefix of the project's:
``path("accounts/", include("fastdispatch.registration.backends.default.urls"))``."""

from fastdispatch.registration.urls import activation_patterns, registration_patterns

BACKEND = "fastdispatch.registration.backends.default.DefaultBackend"

urlpatterns = registration_patterns(BACKEND) + activation_patterns(BACKEND)
