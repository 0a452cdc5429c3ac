from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from notifications.apis import events
from prepaid import health
from wallets.views import wallet_page

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("wallets.urls")),
    path("api/v1/", include("notifications.urls")),
    path("events/", events, name="events"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", wallet_page, name="wallet-page"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
