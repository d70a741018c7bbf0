"""The one model: the incidents table, created by the test (not migrated)."""
from django.db import models


class Incident(models.Model):
    title = models.TextField(unique=True)
    status = models.TextField(default='open')

    class Meta:
        db_table = 'incidents'
        managed = False
