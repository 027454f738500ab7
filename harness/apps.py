from django.apps import AppConfig


class HarnessConfig(AppConfig):
    """Brings the ``bench`` and ``chaos`` management commands; it has no models."""

    name = "harness"
    verbose_name = "Benchmarks and fault scenarios"
