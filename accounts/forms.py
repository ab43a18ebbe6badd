from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User


class SignUpForm(UserCreationForm):
    """Username, email and a password typed twice.

    Validation only: the view hands the cleaned data to `accounts.services.user_sign_up`.
    UserCreationForm already rejects usernames taken in any letter case, mismatched
    passwords and passwords failing AUTH_PASSWORD_VALIDATORS.
    """

    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    error_messages = {
        **UserCreationForm.error_messages,
        "password_mismatch": "The two passwords don’t match. Please type the same password twice.",
    }

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
        help_texts = {"username": "Letters, digits and @ . + - _ only; up to 150 characters."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["password2"].label = "Confirm password"
        self.fields["password2"].help_text = ""


class LogInForm(AuthenticationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
