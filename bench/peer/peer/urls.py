from django.urls import path

from peer import views

urlpatterns = [path("api/v1/wallet/spends", views.SpendView.as_view())]
