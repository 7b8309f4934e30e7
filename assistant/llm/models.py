"""From settings to a chat model: LangChain's `init_chat_model`, with each provider's own names
for the same few settings (where the server is, the key, the time limit, the longest answer).

A provider is a setting, not code: `openai` (also any OpenAI-compatible server, such as llama.cpp's
server, vLLM or LM Studio, given its URL), `azure_openai`, `anthropic` or `ollama`. Only the chosen
provider's package is imported, and only here, when the assistant is set to use it. No retries:
the whole answer has one time limit, and the quoted answer is always there to fall back on.
"""

from __future__ import annotations

from assistant.settings import Settings

# The package each provider needs (`init_chat_model` imports it by name).
PACKAGES = {
    "openai": "langchain-openai",
    "azure_openai": "langchain-openai",
    "anthropic": "langchain-anthropic",
    "ollama": "langchain-ollama",
}


class ModelUnavailable(Exception):
    """The configured model cannot be set up here; the message says what to do."""


def model_options(settings: Settings) -> dict:
    """The keyword arguments `init_chat_model` passes to the provider's chat model class."""
    provider = settings.llm_provider
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    timeout, tokens = settings.llm_timeout_s, settings.llm_max_tokens
    if provider == "openai":
        options = {"timeout": timeout, "max_tokens": tokens, "max_retries": 0, "stream_usage": True}
        if settings.llm_base_url:
            options["base_url"] = settings.llm_base_url
            key = key or "not-needed"  # a local server asks for none, but the client wants one
        return options | ({"api_key": key} if key else {})
    if provider == "azure_openai":
        options = {"azure_deployment": settings.llm_model, "timeout": timeout, "max_tokens": tokens, "max_retries": 0}
        options |= {"azure_endpoint": settings.llm_base_url} if settings.llm_base_url else {}
        options |= {"api_version": settings.llm_api_version} if settings.llm_api_version else {}
        return options | ({"api_key": key} if key else {})
    if provider == "anthropic":
        options = {"timeout": timeout, "max_tokens": tokens, "max_retries": 0}
        options |= {"base_url": settings.llm_base_url} if settings.llm_base_url else {}
        return options | ({"api_key": key} if key else {})
    if provider == "ollama":
        options = {"num_predict": tokens, "client_kwargs": {"timeout": timeout}}
        return options | ({"base_url": settings.llm_base_url} if settings.llm_base_url else {})
    raise ModelUnavailable(f"Unknown ASSISTANT_LLM_PROVIDER {provider!r}.")


def make_chat_model(settings: Settings):
    """The chat model the settings name (temperature 0: the same passages, the same answer)."""
    if not settings.llm_model:
        raise ModelUnavailable("ASSISTANT_LLM_PROVIDER is set but ASSISTANT_LLM_MODEL is empty: name the model.")
    try:
        from langchain.chat_models import init_chat_model

        return init_chat_model(
            settings.llm_model, model_provider=settings.llm_provider, temperature=0, **model_options(settings)
        )
    except ImportError as err:
        package = PACKAGES.get(settings.llm_provider, "its LangChain package")
        raise ModelUnavailable(
            f"The {settings.llm_provider} provider needs {package}: .venv/bin/pip install {package} ({err})."
        ) from err
    except Exception as err:  # a missing key or endpoint: one message, never the key
        raise ModelUnavailable(
            f"The {settings.llm_provider} model could not be set up ({type(err).__name__}: {_first_line(err)})."
        ) from err


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
