"""Routes.  Their patterns are the tags (route key of the comments); those
with a path converter hold '<', ':' and '>', which sqlcommenter
URL-encodes, so that their '%' is doubled in the comment."""
from django.urls import path

from djangosite import views

urlpatterns = [
    path('api/incidents/', views.incident_list, name='incident_list'),
    path('api/incidents/update', views.incident_update, name='incident_update'),
    path('api/incidents/nested', views.incident_nested, name='incident_nested'),
    path('api/incidents/fail', views.incident_fail, name='incident_fail'),
    path('incidents/<int:pk>/', views.incident_detail, name='incident_detail'),
    path('incidents/<int:pk>/summary/', views.incident_summary, name='incident_summary'),
]
