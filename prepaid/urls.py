from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views
from notifications.apis import events
from prepaid import health
from prepaid.admin import operations_page
from prepaid.metrics import metrics
from prepaid.security import csp_report
from wallets import views as wallet_views

# Swagger UI: its init script served as a file (no inline script), its bundle from its CDN.
_DOCS_CSP = {directive: settings.API_DOCS_ORIGINS for directive in ("script-src", "style-src", "img-src")}
_api_docs = csp_update(_DOCS_CSP, REPORT_ONLY=True)(
    csp_update(_DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api-schema")))

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics, name="metrics"),
    path("csp-report", csp_report, name="csp-report"),
    path("admin/operations/", admin.site.admin_view(operations_page), name="admin-operations"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("wallets.urls")),
    path("api/v1/", include("notifications.urls")),
    path("api/v1/", include("audit.urls")),
    path("events/", events, name="events"),
    path("accounts/two-factor/", account_views.two_factor, name="two-factor"),
    path("language", account_views.language_choose, name="language"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", wallet_views.wallet_page, name="wallet-page"),
    path("wallet/charge/checkout", wallet_views.sandbox_checkout, name="charge-sandbox-checkout"),
    path("wallet/charge/success", wallet_views.charge_success, name="charge-success"),
    path("wallet/charge/fail", wallet_views.charge_fail, name="charge-fail"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", _api_docs, name="api-docs"),
]
