from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .models import Genre
        from .selectors import genre_names_forget

        # The filter forms' cached genre names (catalog.selectors.genre_names): admin edits, factories, the API.
        post_save.connect(genre_names_forget, sender=Genre, dispatch_uid="catalog.genre_names.save")
        post_delete.connect(genre_names_forget, sender=Genre, dispatch_uid="catalog.genre_names.delete")
