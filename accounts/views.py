from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import LogInForm, SignUpForm
from accounts.services import user_sign_up
from travelbot.limits import (
    Refused,
    client_address,
    log_in_limits,
    per_hour,
    posts_throttled,
    rates_take,
    refused_page,
)


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "HEAD", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        # Counted once the form is valid: a typo does not use up an address's sign-ups.
        address = client_address(request)
        try:
            rates_take(
                [(f"signup:addr:{address}", per_hour(settings.SIGNUPS_PER_HOUR_PER_ADDRESS))]
            )
        except Refused as refused:
            return refused_page(request, refused)
        user = user_sign_up(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to travelbot, {user.username}!")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/signup.html", {"form": form})


# Django's view already does what a log-in must: safe `next` redirects, CSRF,
# session rotation, never_cache and sensitive_post_parameters. Every attempt is counted.
log_in = posts_throttled(log_in_limits)(
    LoginView.as_view(
        template_name="accounts/login.html",
        authentication_form=LogInForm,
        redirect_authenticated_user=True,
    )
)


@require_POST
def log_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You have been logged out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)
