"""Views.  Each runs exactly one transaction (an atomic block, or one
autocommit query) and says in its JSON answer whether it was a block,
whether it committed, and how long it slept inside it (as measured); the middleware
adds the number of statements.  ?db=p5 runs it on the second alias."""
import time

from django.db import IntegrityError, connections, transaction
from django.http import JsonResponse

from djangosite.models import Incident


def _done(explicit, committed=True, slept=()):
    return JsonResponse({'explicit': explicit, 'committed': committed,
                         'slept': list(slept)},
                        status=200 if committed else 409)


def _sleep(slept, seconds):
    start = time.monotonic()
    time.sleep(seconds)
    slept.append(time.monotonic() - start)


def _db(request):
    return request.GET.get('db', 'default')


def incident_list(request):
    ids = list(Incident.objects.using(_db(request))
               .filter(status='open').values_list('id', flat=True))
    assert ids
    return _done(False)


def incident_update(request):
    db, slept = _db(request), []
    with transaction.atomic(using=db):
        incident = Incident.objects.using(db).get(pk=int(request.GET['id']))
        _sleep(slept, 0.03)
        incident.status = 'acknowledged'
        incident.save(using=db)
    return _done(True, slept=slept)


def incident_nested(request):
    """Savepoints: one released, one rolled back after a unique violation."""
    db, slept = _db(request), []
    with transaction.atomic(using=db):
        incident = Incident.objects.using(db).get(pk=1)
        with transaction.atomic(using=db):
            incident.status = 'open'
            incident.save(using=db)
        try:
            with transaction.atomic(using=db):
                Incident.objects.using(db).create(title='incident 2')
        except IntegrityError:
            pass
        _sleep(slept, 0.02)
        Incident.objects.using(db).filter(pk=2).update(status='open')
    return _done(True, slept=slept)


def incident_fail(request):
    db, slept = _db(request), []
    try:
        with transaction.atomic(using=db):
            Incident.objects.using(db).get(pk=3)
            _sleep(slept, 0.02)
            Incident.objects.using(db).create(title='incident 3')
    except IntegrityError:
        return _done(True, committed=False, slept=slept)
    raise AssertionError('unique violation expected')


def incident_detail(request, pk):
    """A block whose last statement has no parameters (a raw cursor):
    its comment keeps the doubled '%'."""
    db = _db(request)
    with transaction.atomic(using=db):
        Incident.objects.using(db).get(pk=pk)
        with connections[db].cursor() as cursor:
            cursor.execute('SELECT count(*) FROM incidents')
    return _done(True)


def incident_summary(request, pk):
    """One autocommit query without parameters."""
    with connections[_db(request)].cursor() as cursor:
        cursor.execute('SELECT count(*) FROM incidents')
    return _done(False)
