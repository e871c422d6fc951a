"""Models of the application benchmark, one per workload, so that what one
row connects never reaches another's models; and 50 models that only have
receivers of their own, as a project's other apps do."""

from django.db import models


class Loaded(models.Model):
    """Loaded with nothing listening, then with field-tracker receivers."""

    name = models.CharField(max_length=40)
    value = models.IntegerField()


class Tracked(models.Model):
    """Each instance connects a receiver of its own when it is made."""

    name = models.CharField(max_length=40)
    value = models.IntegerField()


class Audited(models.Model):
    """Saved with a pre_save and a post_save receiver (history, audit)."""

    name = models.CharField(max_length=40)
    value = models.IntegerField()


class Doomed(models.Model):
    """Deleted one by one, or by a queryset, with delete receivers."""

    name = models.CharField(max_length=40)


class Plain(models.Model):
    """Deleted by a queryset with nobody listening: Django's fast delete."""

    name = models.CharField(max_length=40)


OTHER_MODELS = [
    type(
        f"Other{index:02d}",
        (models.Model,),
        {"__module__": __name__, "name": models.CharField(max_length=10)},
    )
    for index in range(50)
]
