from __future__ import annotations

from django.contrib import admin

from profiles.models import (
    Booking,
    CrmCustomer,
    DataQualityFinding,
    IdentityNode,
    LoyaltyMember,
    Profile,
    ProfileLink,
    Suppression,
)


@admin.register(CrmCustomer, LoyaltyMember, Booking)
class SourceRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("pk", "version", "as_of", "deleted", "source_system")
    search_fields = ("pk", "email")
    readonly_fields = ("version", "as_of", "applied_at", "source_system")


@admin.register(IdentityNode)
class IdentityNodeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("node_id", "profile_id", "changed_at")
    search_fields = ("node_id", "profile_id")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("profile_id", "records", "updated_at")
    search_fields = ("profile_id",)


@admin.register(ProfileLink)
class ProfileLinkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "kind", "value", "method", "linked_at")


@admin.register(DataQualityFinding)
class DataQualityFindingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("node_id", "field", "value", "problem", "found_at")


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("kind", "value_hash", "created_at", "lifted_at", "erasure")
