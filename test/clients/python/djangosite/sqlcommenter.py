"""A sqlcommenter middleware, written after the format of Google's
sqlcommenter for Django: every statement run during a request gets a
comment appended, ' /*key='value',...*/', keys sorted, keys and values
URL-encoded ('/' kept) and then every '%' doubled, because Django hands
the text to the driver's paramstyle formatting (which turns '%%' back into
'%' only when the query has parameters).

It also counts, per request, the statements run, as postgres_extension
counts them (savepoint commands are not statements), for the ledger.
"""
from contextlib import ExitStack
from urllib.parse import quote

import django
from django.db import connections

SAVEPOINT_COMMANDS = ('SAVEPOINT', 'RELEASE SAVEPOINT', 'ROLLBACK TO SAVEPOINT')


def _quote(value):
    return quote(str(value)).replace('%', '%%')


def comment(**pairs):
    body = ','.join("%s='%s'" % (_quote(k), _quote(v))
                    for k, v in sorted(pairs.items()) if v is not None)
    return ' /*%s*/' % body if body else ''


class SqlCommenterMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.statements = 0

        def wrapper(execute, sql, params, many, context):
            match = request.resolver_match
            sql += comment(
                controller=match.view_name if match else None,
                db_driver=context['connection'].settings_dict['ENGINE'],
                framework='django:%s' % django.get_version(),
                route=match.route if match else None)
            if not sql.lstrip().upper().startswith(SAVEPOINT_COMMANDS):
                request.statements += 1
            return execute(sql, params, many, context)

        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(wrapper))
            response = self.get_response(request)
        response['X-Statements'] = str(request.statements)
        return response
