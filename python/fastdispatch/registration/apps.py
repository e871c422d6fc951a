from django.apps import AppConfig


class RegistrationConfig(AppConfig):
    """``fastdispatch.registration``: no models, only views, URLconfs and the
    templates under ``templates/registration/``."""

    name = "fastdispatch.registration"
    label = "fastdispatch_registration"
    verbose_name = "Registration"
