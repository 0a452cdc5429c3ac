from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from notifications.apis import events
from prepaid import health
from prepaid.admin import operations_page
from prepaid.metrics import metrics
from wallets import views as wallet_views

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics, name="metrics"),
    path("admin/operations/", admin.site.admin_view(operations_page), name="admin-operations"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("wallets.urls")),
    path("api/v1/", include("notifications.urls")),
    path("events/", events, name="events"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", wallet_views.wallet_page, name="wallet-page"),
    path("wallet/charge/checkout", wallet_views.sandbox_checkout, name="charge-sandbox-checkout"),
    path("wallet/charge/success", wallet_views.charge_success, name="charge-success"),
    path("wallet/charge/fail", wallet_views.charge_fail, name="charge-fail"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
