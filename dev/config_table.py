"""``python -m dev.config_table``: the README's configuration table, from the settings classes."""

from __future__ import annotations

from pydantic_settings import BaseSettings


def _flag(name: str, settings_cls: type[BaseSettings]) -> str:
    return name.replace("_", "-") if settings_cls.model_config.get("cli_kebab_case") else name


def _default(value: object) -> object:
    return ",".join(value) if isinstance(value, tuple) else value


def table(services: dict[str, type[BaseSettings]]) -> str:
    """A Markdown table of every setting: service, flag / environment variable, default, meaning."""
    rows = ["| service | flag / environment variable | default | meaning |", "|---|---|---|---|"]
    for service, settings_cls in services.items():
        prefix = settings_cls.model_config["env_prefix"]
        for name, field in settings_cls.model_fields.items():
            default = "(required)" if field.is_required() else f"`{_default(field.default)}`"
            flag = _flag(name, settings_cls)
            rows.append(f"| {service} | `--{flag}` / `{prefix}{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows)


def services() -> dict[str, type[BaseSettings]]:
    """Every service's settings class, in the order of the request path."""
    from case_batch.settings import BatchSettings
    from case_feedback.service.settings import FeedbackSettings
    from case_language.service.settings import LanguageServiceSettings
    from predictor.settings import PredictorSettings
    from transformer.settings import TransformerSettings

    return {
        "transformer": TransformerSettings,
        "predictor": PredictorSettings,
        "language": LanguageServiceSettings,
        "feedback": FeedbackSettings,
        "case-batch": BatchSettings,
    }


def main() -> None:
    """Print the table."""
    print(table(services()))


if __name__ == "__main__":
    main()
