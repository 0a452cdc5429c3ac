from django.urls import path

from notifications import apis

urlpatterns = [
    path("notifications", apis.NotificationListAPI.as_view(), name="notifications"),
    path("notifications/read", apis.NotificationMarkReadAPI.as_view(), name="notifications-read"),
    path("notifications/stream-token", apis.StreamTokenAPI.as_view(), name="notifications-stream-token"),
]
