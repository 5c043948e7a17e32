"""The ``api-version`` values Atrium accepts, and which request arguments each one knows.

Azure gates request arguments by ``api-version``: an argument newer than the version (or
one Azure never had) is answered 400 "Unrecognized request argument supplied: X". The
table follows the feature changelog of Azure's api-version lifecycle page and the
published inference specs (see ``../shared/reference/azure-openai.md`` §1.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from atrium.api.annotations import LATEST_STYLE, NO_ANNOTATIONS, AnnotationStyle

GA_VERSIONS = ("2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21")
PREVIEW_VERSIONS = (
    "2022-03-01-preview", "2022-06-01-preview", "2023-03-15-preview", "2023-06-01-preview",
    "2023-07-01-preview", "2023-08-01-preview", "2023-09-01-preview", "2023-10-01-preview",
    "2023-11-01-preview", "2023-12-01-preview", "2024-02-15-preview", "2024-03-01-preview",
    "2024-04-01-preview", "2024-05-01-preview", "2024-07-01-preview", "2024-08-01-preview",
    "2024-09-01-preview", "2024-10-01-preview", "2024-12-01-preview", "2025-01-01-preview",
    "2025-02-01-preview", "2025-03-01-preview", "2025-04-01-preview",
)  # fmt: skip
V1_VERSIONS = ("v1", "latest", "preview")

CHAT_BASE = frozenset(
    {
        "model", "messages", "temperature", "top_p", "n", "stream", "stop", "max_tokens",
        "presence_penalty", "frequency_penalty", "logit_bias", "user",
    }
)  # fmt: skip
COMPLETION_BASE = frozenset(
    {
        "model", "prompt", "suffix", "max_tokens", "temperature", "top_p", "n", "stream",
        "logprobs", "echo", "stop", "presence_penalty", "frequency_penalty", "best_of",
        "logit_bias", "user",
    }
)  # fmt: skip

# (first preview with the arguments, the arguments, first GA with them or None)
CHAT_FEATURES: tuple[tuple[str, frozenset[str], str | None], ...] = (
    ("2023-06-01-preview", frozenset({"data_sources", "dataSources"}), "2024-02-01"),
    ("2023-07-01-preview", frozenset({"functions", "function_call"}), "2024-02-01"),
    (
        "2023-12-01-preview",
        frozenset({"tools", "tool_choice", "seed", "logprobs", "top_logprobs", "response_format"}),
        "2024-02-01",
    ),
    # The 2024-10-21 GA spec has the first two but not stream_options; the live service
    # streams usage "from 2024-09-01-preview" on (reference §2.5), 2024-10-21 included, and
    # LangChain's AzureChatOpenAI sends both max_completion_tokens and stream_options there.
    (
        "2024-09-01-preview",
        frozenset({"parallel_tool_calls", "max_completion_tokens", "stream_options"}),
        "2024-10-21",
    ),
    ("2024-12-01-preview", frozenset({"store", "metadata", "reasoning_effort"}), None),
    ("2025-01-01-preview", frozenset({"prediction", "modalities", "audio"}), None),
    ("2025-04-01-preview", frozenset({"user_security_context"}), None),
)
COMPLETION_FEATURES: tuple[tuple[str, frozenset[str], str | None], ...] = (
    ("2023-12-01-preview", frozenset({"seed"}), "2024-02-01"),
    ("2024-09-01-preview", frozenset({"stream_options"}), "2024-10-21"),
)
FIRST_CHAT_VERSION = {"ga": "2023-05-15", "preview": "2023-03-15-preview"}
# Content-filter annotations (reference §2.1-2.5): first versions with them, the preview that
# still spelled the prompt's results ``prompt_annotations``, and the previews from which
# custom blocklists are annotated as an array, then as an object (with ``indirect_attack``).
FIRST_ANNOTATED = {"ga": "2024-02-01", "preview": "2023-06-01-preview"}
PROMPT_ANNOTATIONS_PREVIEW = "2023-06-01-preview"
BLOCKLIST_ARRAY_PREVIEW = "2023-12-01-preview"
BLOCKLIST_OBJECT_PREVIEW = "2024-04-01-preview"
LAST_DEPLOYMENTS_LISTING = "2023-03-15-preview"


def _date(version: str) -> str:
    return version.removesuffix("-preview")


@dataclass(frozen=True, slots=True)
class ApiVersion:
    name: str
    chat_arguments: frozenset[str]
    completion_arguments: frozenset[str]

    @property
    def preview(self) -> bool:
        return self.name.endswith("-preview")

    @property
    def has_chat(self) -> bool:
        first = FIRST_CHAT_VERSION["preview" if self.preview else "ga"]
        return _date(self.name) >= _date(first)

    @property
    def annotations(self) -> AnnotationStyle:
        """How this version's responses carry content-filter results (module docstring of
        ``atrium.api.annotations``)."""
        date = _date(self.name)
        if date < _date(FIRST_ANNOTATED["preview" if self.preview else "ga"]):
            return NO_ANNOTATIONS
        if not self.preview:  # the GA schemas have neither blocklists nor indirect attacks
            return AnnotationStyle(blocklists="none", indirect_attack=False)
        if self.name == PROMPT_ANNOTATIONS_PREVIEW:
            return AnnotationStyle(
                prompt_key="prompt_annotations", blocklists="none", indirect_attack=False
            )
        if date < _date(BLOCKLIST_ARRAY_PREVIEW):
            return AnnotationStyle(blocklists="none", indirect_attack=False)
        if date < _date(BLOCKLIST_OBJECT_PREVIEW):
            return AnnotationStyle(blocklists="array", indirect_attack=False)
        return AnnotationStyle()

    @property
    def lists_deployments(self) -> bool:
        """``GET /openai/deployments`` existed up to 2023-03-15-preview."""
        return _date(self.name) <= _date(LAST_DEPLOYMENTS_LISTING) and (
            self.preview or self.name == "2022-12-01"
        )


def _arguments(
    version: str, base: frozenset[str], features: tuple[tuple[str, frozenset[str], str | None], ...]
) -> frozenset[str]:
    known = set(base)
    preview = version.endswith("-preview")
    for first_preview, arguments, first_ga in features:
        first = first_preview if preview else first_ga
        if first is not None and _date(version) >= _date(first):
            known |= arguments
    return frozenset(known)


def _build() -> dict[str, ApiVersion]:
    return {
        name: ApiVersion(
            name,
            _arguments(name, CHAT_BASE, CHAT_FEATURES),
            _arguments(name, COMPLETION_BASE, COMPLETION_FEATURES),
        )
        for name in (*GA_VERSIONS, *PREVIEW_VERSIONS)
    }


API_VERSIONS = _build()


def annotation_style(api_version: str | None) -> AnnotationStyle:
    """The annotations of a request's ``api-version`` (the newest for v1 and unknown ones)."""
    version = API_VERSIONS.get(api_version or "")
    return LATEST_STYLE if version is None else version.annotations
