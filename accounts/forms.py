from django import forms
from django.contrib.auth.forms import UserCreationForm

from .models import User


class SignUpForm(UserCreationForm):
    email = forms.EmailField(
        label="Email (optional)",
        required=False,
        help_text="Only used to reset your password if you forget it.",
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_username(self):
        username = super().clean_username()
        # Imported MovieLens raters are named movielens-<id>; a person taking such a name would
        # block the next import of that rater.
        if username and username.lower().startswith("movielens-"):
            raise forms.ValidationError("Usernames starting with “movielens-” are reserved. Please choose another.")
        return username
