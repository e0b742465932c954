from django.apps import AppConfig


class MovielensConfig(AppConfig):
    name = "movielens"
    verbose_name = "MovieLens import"
