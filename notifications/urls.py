from django.urls import path

from notifications import apis

urlpatterns = [
    path("notifications", apis.NotificationListAPI.as_view(), name="notifications"),
    path("notifications/read", apis.NotificationMarkReadAPI.as_view(), name="notifications-read"),
    path("notifications/stream-token", apis.StreamTokenAPI.as_view(), name="notifications-stream-token"),
    path("notification-preferences", apis.NotificationPreferenceAPI.as_view(), name="notification-preferences"),
    path("ops/dead-letters", apis.DeadLetterListAPI.as_view(), name="ops-dead-letters"),
    path("ops/dead-letters/<str:dead_letter_id>", apis.DeadLetterDetailAPI.as_view(), name="ops-dead-letter"),
    path("ops/dead-letters/<str:dead_letter_id>/replay", apis.DeadLetterReplayAPI.as_view(),
         name="ops-dead-letter-replay"),
    path("ops/dead-letters/<str:dead_letter_id>/discard", apis.DeadLetterDiscardAPI.as_view(),
         name="ops-dead-letter-discard"),
]
