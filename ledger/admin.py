from django.contrib import admin

from ledger.models import Account, JournalEntry, Posting
from prepaid.admin import ReadOnlyAdmin, ReadOnlyInline


class PostingInline(ReadOnlyInline):
    model = Posting
    fields = ("account", "amount", "balance_after")
    readonly_fields = fields


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "description", "created_at")
    list_filter = ("created_at",)  # (its kind is the writer's word: the operations' admin filters on it)
    search_fields = ("id",)
    readonly_fields = [f.name for f in JournalEntry._meta.fields]
    inlines = [PostingInline]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "currency", "created_at")
    list_filter = ("kind",)
    search_fields = ("code",)


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ("id", "entry", "account", "amount", "balance_after", "created_at")
    search_fields = ("entry__id", "account__code")
    list_select_related = ("entry", "account")
