from django.apps import AppConfig


class MovieNightConfig(AppConfig):
    name = "movienight"
    verbose_name = "Movie night (groups choosing a movie together)"
