"""Settings of the test site.  The client script puts the connection
parameters in the environment before django.setup().

Two database aliases reach the same database under two application_names:
"default" for most views, "p5" for the routes with '%%' in their comments.  The
time zone is the server's ('UTC'), so that Django sends no SET TIME ZONE
when it connects.
"""
import os

SECRET_KEY = 'only for tests'
DEBUG = False
ALLOWED_HOSTS = ['testserver']
INSTALLED_APPS = ['djangosite']
MIDDLEWARE = ['djangosite.sqlcommenter.SqlCommenterMiddleware']
ROOT_URLCONF = 'djangosite.urls'
USE_TZ = True
TIME_ZONE = 'UTC'
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'


def _database(app):
    return {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': os.environ['PGXT_DJANGO_DBNAME'],
        'USER': os.environ['PGXT_DJANGO_USER'],
        'HOST': os.environ['PGXT_DJANGO_HOST'],
        'PORT': os.environ['PGXT_DJANGO_PORT'],
        'OPTIONS': {'application_name': app},
    }


DATABASES = {
    'default': _database(os.environ['PGXT_DJANGO_APP']),
    'p5': _database(os.environ['PGXT_DJANGO_APP'] + ':p5'),
}
