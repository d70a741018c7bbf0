"""A minimal standalone Django 3.2 site for test/clients/python/django_client.py:
settings, one model, a few views and a sqlcommenter middleware."""
