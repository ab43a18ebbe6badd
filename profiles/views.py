"""The traveller's "My profile" page and linking, staff profile pages and the staff API."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST, require_safe

from exports.selectors import consent_for_user
from exports.services import consent_set
from profiles.forms import EmailLinkForm, EraseForm, LoyaltyLinkForm, profile_query
from profiles.models import ProfileLink
from profiles.privacy import profile_erase
from profiles.representations import profile_json
from profiles.selectors import (
    erasures_list,
    profile_find,
    profile_for_user,
    profile_get,
    profiles_search,
)
from profiles.services import (
    LinkError,
    email_verification_confirm,
    email_verification_send,
    profile_link_by_loyalty,
    profile_unlink,
    suppressions_lift,
)
from travelbot.access import signed_in, staff_api, staff_page
from travelbot.limits import Rate, per_hour, posts_throttled


@login_required
@require_safe
def my_profile(request: HttpRequest) -> HttpResponse:
    return _profile_page(request)


def _profile_page(
    request: HttpRequest,
    *,
    email_form: EmailLinkForm | None = None,
    loyalty_form: LoyaltyLinkForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The page, with a refused form shown again as the traveller filled it in."""
    user = signed_in(request)
    link = ProfileLink.objects.filter(user=user).first()
    context = {
        "link": link,
        "profile": profile_for_user(user=user) if link else None,
        "email_form": email_form or EmailLinkForm(initial={"email": user.email}),
        "loyalty_form": loyalty_form or LoyaltyLinkForm(),
        "export_consent": consent_for_user(user=user),
    }
    return render(request, "profiles/my_profile.html", context, status=status)


def _email_links(request: HttpRequest) -> list[tuple[str, Rate]]:
    rate = per_hour(settings.EMAIL_LINKS_PER_HOUR)
    return [(f"profiles:email-links:user:{request.user.pk}", rate)]


@login_required
@require_POST
@posts_throttled(_email_links)
def link_email(request: HttpRequest) -> HttpResponse:
    form = EmailLinkForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, email_form=form, status=400)
    try:
        email = email_verification_send(
            user=signed_in(request),
            email=form.cleaned_data["email"],
            confirm_url=_confirm_url(request),
            client=_client(request),
        )
    except LinkError as exc:
        form.add_error("email", str(exc))
        return _profile_page(request, email_form=form, status=400)
    messages.success(request, f"We sent a confirmation link to {email}.")
    return redirect("profiles:mine")


@login_required
@require_GET
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = email_verification_confirm(user=signed_in(request), token=token)
    except LinkError as exc:
        messages.error(request, str(exc))
    else:
        done = {
            ProfileLink.Method.EMAIL: "Your email is confirmed and your profile linked.",
            ProfileLink.Method.LOYALTY: "Your loyalty account and bookings are linked.",
        }
        messages.success(request, done[ProfileLink.Method(link.method)])
    return redirect("profiles:mine")


@login_required
@require_POST
def link_loyalty(request: HttpRequest) -> HttpResponse:
    form = LoyaltyLinkForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, loyalty_form=form, status=400)
    try:
        masked = profile_link_by_loyalty(
            user=signed_in(request),
            confirm_url=_confirm_url(request),
            client=_client(request),
            **form.cleaned_data,
        )
    except LinkError as exc:
        form.add_error(None, str(exc))
        return _profile_page(request, loyalty_form=form, status=400)
    messages.success(
        request,
        f"We sent a confirmation link to the email of that loyalty account ({masked}). "
        "Your loyalty account and bookings are linked once you open it.",
    )
    return redirect("profiles:mine")


def _confirm_url(request: HttpRequest) -> str:
    """The emailed link's address, with a `{token}` placeholder."""
    confirm = request.build_absolute_uri(reverse("profiles:confirm", args=["TOKEN"]))
    return confirm.replace("TOKEN", "{token}")


def _client(request: HttpRequest) -> str:
    # REMOTE_ADDR, not a forwarded header a client could set to dodge the limit.
    return str(request.META.get("REMOTE_ADDR", ""))


@login_required
@require_POST
def unlink(request: HttpRequest) -> HttpResponse:
    if profile_unlink(user=signed_in(request)):
        messages.info(request, "Your profile is unlinked: the assistant no longer uses it.")
    return redirect("profiles:mine")


@login_required
@require_POST
def export_consent(request: HttpRequest) -> HttpResponse:
    """Only ever the signed-in traveller's own choice: the user comes from the session."""
    granted = request.POST.get("granted") == "on"
    consent_set(user=signed_in(request), granted=granted)
    if granted:
        messages.success(request, "Thank you: your rated conversations can help the assistant.")
    else:
        messages.info(request, "Your rated conversations are no longer used for improvement.")
    return redirect("profiles:mine")


@staff_page
@require_safe
def staff_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    found = [profile_get(profile_id=pid) for pid in profiles_search(text=query)] if query else []
    return render(
        request,
        "profiles/staff_search.html",
        {"query": query, "profiles": [p for p in found if p is not None]},
    )


@staff_page
@require_safe
def staff_detail(request: HttpRequest, profile_id: str) -> HttpResponse:
    profile = profile_get(profile_id=profile_id, for_staff=True)
    if profile is None:
        raise Http404("no such profile")
    return render(
        request,
        "profiles/staff_detail.html",
        {"profile": profile, "erase_form": EraseForm(profile_id=profile_id)},
    )


@staff_page
@require_POST
def staff_erase(request: HttpRequest, profile_id: str) -> HttpResponse:
    form = EraseForm(request.POST, profile_id=profile_id)
    if not form.is_valid():
        messages.error(request, "Type the profile id exactly to erase it.")
        return redirect("profiles:staff_detail", profile_id=profile_id)
    erasure = profile_erase(profile_id=profile_id, by=request.user)
    if erasure is None:
        raise Http404("no such profile")
    messages.success(
        request,
        f"Erased {len(erasure.records)} record(s); {len(erasure.identifiers)} identifier(s) "
        "are suppressed.",
    )
    return redirect("profiles:erasures")


@staff_page
@require_safe
def staff_erasures(request: HttpRequest) -> HttpResponse:
    return render(request, "profiles/erasures.html", {"erasures": erasures_list()})


@staff_page
@require_POST
def staff_lift(request: HttpRequest, erasure: uuid.UUID) -> HttpResponse:
    apply_held = request.POST.get("held") == "apply"
    lifted = suppressions_lift(erasure=erasure, by=request.user, apply_held=apply_held)
    what = "applied" if apply_held else "discarded"
    messages.success(request, f"Lifted {lifted} suppression(s); held events {what}.")
    return redirect("profiles:erasures")


@staff_api
@require_GET
def profiles_api(request: HttpRequest) -> JsonResponse:
    identifier, error = profile_query(request.GET.dict())
    if error is not None or identifier is None:
        return JsonResponse({"error": error}, status=400)
    profile_id = profile_find(identifier=identifier)
    profile = None if profile_id is None else profile_get(profile_id=profile_id, for_staff=True)
    if profile is None:
        return JsonResponse({"error": f"no profile with {identifier}"}, status=404)
    return JsonResponse(profile_json(profile, for_staff=True))
