from django.urls import path

from accounts import apis

urlpatterns = [
    path("auth/tokens", apis.ApiTokenListCreateAPI.as_view(), name="api-tokens"),
    path("auth/tokens/<str:token_id>", apis.ApiTokenRevokeAPI.as_view(), name="api-token"),
]
