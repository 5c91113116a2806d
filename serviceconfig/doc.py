"""``python -m serviceconfig.doc``: the README's configuration table, from the settings classes."""

from __future__ import annotations

from pydantic_settings import BaseSettings


def table(services: dict[str, type[BaseSettings]]) -> str:
    """A Markdown table of every setting: service, flag / environment variable, default, meaning."""
    rows = ["| service | flag / environment variable | default | meaning |", "|---|---|---|---|"]
    for service, settings_cls in services.items():
        prefix = settings_cls.model_config["env_prefix"]
        for name, field in settings_cls.model_fields.items():
            default = ",".join(field.default) if isinstance(field.default, tuple) else field.default
            rows.append(f"| {service} | `--{name}` / `{prefix}{name.upper()}` | `{default}` | {field.description} |")
    return "\n".join(rows)


def main() -> None:
    """Print the table for the three services."""
    from langdetect.settings import LangdetectSettings
    from predictor.settings import PredictorSettings
    from transformer.settings import TransformerSettings

    print(table({"transformer": TransformerSettings, "predictor": PredictorSettings, "langdetect": LangdetectSettings}))


if __name__ == "__main__":
    main()
