"""Django 3.2 (Debian's python3-django, on psycopg2): requests through
Django's test client to the views of djangosite, whose middleware appends
sqlcommenter comments (key route read by the server: the role "web" has
tag_comment_key = 'route').  Each view runs one transaction: ORM queries,
atomic blocks with savepoints, a unique violation, sleeps inside blocks.
The routes with path converters run under their own application_name
('%%' in comments of queries without parameters).

Run by test/t/070_clients_python.pl; prints its ledger (ledger.py).
"""
import json
import os

from ledger import Ledger, parse_args

args = parse_args(__doc__)
os.environ.update({
    'DJANGO_SETTINGS_MODULE': 'djangosite.settings',
    'PGXT_DJANGO_HOST': args.host,
    'PGXT_DJANGO_PORT': str(args.port),
    'PGXT_DJANGO_DBNAME': args.dbname,
    'PGXT_DJANGO_USER': args.web_user,
    'PGXT_DJANGO_APP': args.app,
})

import django                     # noqa: E402 (after the settings' environment)
django.setup()
from django.test import Client    # noqa: E402
from django.urls import resolve   # noqa: E402

led = Ledger('django')
main = led.section(args.app)
p5 = led.section(args.app + ':p5')
client = Client()


def request(section, path, query=''):
    """GET path; the view's transaction is recorded under its route."""
    response = client.get(path + query)
    assert response.status_code in (200, 409), response.status_code
    done = json.loads(response.content)
    x = section.xact(resolve(path).route, explicit=done['explicit'])
    x.stmt(int(response['X-Statements']))
    for seconds in done['slept']:
        x.slept_for(seconds)
    if done['committed']:
        x.commit()
    else:
        x.rollback()


for _ in range(3):
    request(main, '/api/incidents/')
for _ in range(2):
    request(main, '/api/incidents/update', '?id=4')
request(main, '/api/incidents/nested')
request(main, '/api/incidents/fail')

for _ in range(2):
    request(p5, '/incidents/3/', '?db=p5')
request(p5, '/incidents/3/summary/', '?db=p5')

led.dump()
