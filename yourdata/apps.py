from django.apps import AppConfig


class YourDataConfig(AppConfig):
    name = "yourdata"
    verbose_name = "Your data (downloads, account deletion)"
