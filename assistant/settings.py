"""All settings in one place: environment variables with the ASSISTANT_ prefix, or a .env file."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_serializer
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(PROJECT_ROOT / "data", description="Where the index and feedback live.")
    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="Guidance documents to ingest.")
    glossary_file: Path | None = Field(
        None, description="Jargon glossary (optional); default: glossary.yaml in the corpus folder."
    )
    prompts_dir: Path = Field(PROJECT_ROOT / "prompts", description="Message and prompt templates.")
    models_dir: Path = Field(PROJECT_ROOT / "models", description="Verified model files (`assistant model fetch`).")

    embedder: Literal["auto", "hashing", "onnx", "sentence-transformers"] = Field(
        "auto", description="auto: the verified model (ONNX, else torch) if it is fetched, else hashing."
    )
    model_name: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        description="sentence-transformers model name or local folder.",
    )
    reader: Literal["auto", "off"] = Field(
        "auto",
        description="auto: the reader trained here (reader/, verified by hash) instead of the base model; off: the base model.",
    )
    reader_dir: Path = Field(PROJECT_ROOT / "reader", description="The reader's folder (`assistant train-reader`).")
    reader_sha256: str = Field(
        "", description="SHA-256 of the reader's model.onnx; default: the shipped reader's (pinned in reader_files.py)."
    )
    embed_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="ONNX threads for one encoding; default: the cores (fastest ingest); `serve` uses 1.",
    )
    chroma_host: str | None = Field(
        None,
        description="Use a Chroma server instead of the local store (with database_url: one index for many processes).",
    )
    chroma_port: int = Field(8000, description="Port of the Chroma server.")

    max_document_mb: float = Field(10, gt=0, description="Larger files in the corpus are skipped with a message.")

    top_k: int = Field(8, ge=1, le=20, description="Passages the answer is composed from.")
    max_answer_words: int = Field(80, ge=20, le=300, description="Word budget of an answer.")
    min_coverage: float = Field(
        0.5, ge=0, le=1, description="Share of the question's weighted terms the evidence must contain."
    )
    max_question_chars: int = Field(1000, ge=10, description="Longer questions are refused.")
    max_history_turns: int = Field(
        20, ge=0, description="Earlier turns a request may send (only the last few are read)."
    )
    max_history_turn_chars: int = Field(8000, ge=100, description="Longest earlier turn a request may send.")
    max_history_chars: int = Field(40000, ge=100, description="Longest history a request may send, all turns together.")

    host: str = Field("127.0.0.1", description="Web server address.")
    port: int = Field(7860, description="Web server port.")
    workers: int = Field(1, ge=1, le=32, description="Server processes (`serve --workers N`), sharing one index.")
    answer_threads: int | None = Field(
        None, ge=1, le=64, description="Questions answered at once per process; default: cores / workers."
    )
    max_in_flight: int = Field(64, ge=1, description="Questions answered or waiting per process; beyond: 503.")
    rate_limit: str = Field(
        "5/second;120/minute", description="Questions per client (`limits` notation, ';' between limits); '' for none."
    )
    rate_limit_storage: str | None = Field(
        None,
        description="Where rate limits are counted, shared by every worker and machine (a `limits` storage URI, e.g. redis://127.0.0.1:6379); unset: in each process.",
    )
    client_ip_header: str | None = Field(
        None, description="Header naming the client's address, set by your reverse proxy (e.g. X-Forwarded-For)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"], description="Addresses whose client_ip_header is believed."
    )
    answer_id_key: str | None = Field(
        None, description="Key that signs answer ids (feedback checks them); default: kept in the data folder."
    )
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="Largest request body; beyond: 413.")
    body_timeout_s: float = Field(
        10,
        gt=0,
        le=300,
        description="A request's whole body must arrive within this (before it may be answered); beyond: 408.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="Sites allowed to embed the chat (CSP frame-ancestors, CORS)."
    )

    # ---- Web sources (assistant/sources/): pages of the deployer's site, declared under `sources:` in
    # assistant.yaml and fetched by `assistant sync`.
    web_delay_seconds: float = Field(1.0, ge=0, le=60, description="Pause between two requests to one site.")
    web_timeout_seconds: float = Field(20, gt=0, le=300, description="A page's whole response within this, or it fails.")
    web_max_pages: int = Field(1000, ge=1, le=100000, description="Most pages taken from one source's sitemaps.")
    web_check_seconds: float = Field(
        60, ge=0.5, le=86400, description="`serve` looks this often for sources due a sync (each has its own refresh)."
    )

    # ---- Records (assistant/stores/) and the staff console (assistant/console/).
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the records database (postgresql+psycopg://...); default: SQLite in the data folder.",
    )
    keep_questions: bool = Field(
        True, description="Keep declined and thumbs-down questions, redacted, for the console's gaps view."
    )
    keep_days: int = Field(90, ge=1, le=3650, description="Kept questions are deleted after this many days.")
    audit_days: int = Field(365, ge=1, le=3650, description="Audit log entries are deleted after this many days.")
    admin_password: SecretStr | None = Field(
        None, description="Turns the staff console on (/admin/, /api/admin/*); unset: both are 404."
    )
    admin_session_hours: float = Field(8, gt=0, le=168, description="A console login lasts this long.")
    admin_login_attempts: int = Field(
        5,
        ge=1,
        le=100,
        description="Wrong passwords from one address before each further try waits (10 s, doubling, at most 15 min).",
    )
    admin_origins: list[str] = Field(
        default_factory=list,
        description="Other sites whose pages may change things in the console (its own pages always may).",
    )

    # ---- Optional: answers written by a language model (assistant/llm/). Off unless a provider is set;
    # every sentence it writes is checked against the passage it cites, and the quoted answer is
    # the fallback. Only the provider's own package is imported, and only when it is switched on.
    llm_provider: Literal["", "openai", "azure_openai", "anthropic", "ollama"] = Field(
        "", description="Empty: off (answers quote the guidance). openai also serves any OpenAI-compatible server."
    )
    llm_model: str = Field("", description="The model's name (Azure: the deployment's name).")
    llm_base_url: str | None = Field(None, description="The server's URL (OpenAI-compatible, Ollama, Azure endpoint).")
    llm_api_key: SecretStr | None = Field(None, description="The provider's API key (never logged or reported).")
    llm_api_version: str | None = Field(None, description="Azure OpenAI only: the API version.")
    llm_timeout_s: float = Field(
        20, gt=0, le=300, description="The model's whole answer within this, or the quoted one."
    )
    llm_max_tokens: int = Field(400, ge=50, le=8000, description="Longest answer the model may write, in tokens.")

    @field_serializer("llm_api_key", "admin_password", when_used="json")
    def _key_in_json(self, key: SecretStr | None, info) -> str | None:
        """Masked in every dump (reports, logs), except the in-process copy the service cache makes."""
        if key is None:
            return None
        return key.get_secret_value() if (info.context or {}).get("reveal_secrets") else str(key)

    @property
    def records_url(self) -> str:
        """The records database: ASSISTANT_DATABASE_URL, or SQLite in the data folder."""
        from assistant.stores.database import database_url

        return database_url(self.data_dir, self.database_url)

    @property
    def shares_index(self) -> bool:
        """Several app processes, on one machine or several, answer from one index: with a Chroma
        server and a database both set, each ingest is published there and followed by every
        process (stores/shared_index.py)."""
        return bool(self.chroma_host and self.database_url)

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def glossary_path(self) -> Path:
        """The glossary lives with the corpus it explains, unless the deployer points elsewhere."""
        return self.glossary_file or self.corpus_dir / "glossary.yaml"

    @property
    def deployer_path(self) -> Path:
        """The deployer's file (name, scope, contacts), beside the documents."""
        return self.corpus_dir / "assistant.yaml"
