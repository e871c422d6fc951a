from django.http import HttpResponse
from django.urls import path


def ping(request):
    return HttpResponse(b"pong", content_type="text/plain")


urlpatterns = [path("ping/", ping)]
