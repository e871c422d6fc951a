from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "signals_command.shop"
    label = "shop"

    def ready(self):
        # Receivers are connected on import, as in most projects.
        from signals_command.shop import legacy, receivers  # noqa: F401
