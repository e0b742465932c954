from django.apps import AppConfig
from django.conf import settings
from django.core import checks


def check_onboarding_strategy(app_configs, **kwargs) -> list[checks.Error]:
    """ONBOARDING_STRATEGY names a strategy of recommendations.onboarding (at start-up, not at the first sign-up)."""
    from .onboarding import STRATEGIES

    if settings.ONBOARDING_STRATEGY in STRATEGIES:
        return []
    return [
        checks.Error(
            f"ONBOARDING_STRATEGY must be one of {', '.join(STRATEGIES)}, got {settings.ONBOARDING_STRATEGY!r}",
            id="recommendations.E001",
        )
    ]


class RecommendationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recommendations"

    def ready(self) -> None:
        checks.register(check_onboarding_strategy)
