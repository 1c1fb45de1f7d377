"""Batch configs: YAML files validated by pydantic models before anything runs.

Relative paths in a config are resolved against the folder of the config file, so the same
config gives the same run whatever the current directory is.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError
from .store import STORE_FILE

UNITS = ("turn", "sentence", "paragraph")
DEFAULT_CONTEXT_ROLES = ["interviewer", "moderator", "facilitator"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectConfig(_Strict):
    name: str = "precode"
    output_dir: str = "outputs/precode"
    store: str | None = None  # default: <output_dir>/project.sqlite


class StudyConfig(_Strict):
    name: str
    inputs: list[str] = Field(min_length=1)
    codebook: str
    roles: dict[str, dict[str, str]] | None = None  # {document or "*": {speaker: role}}
    roles_file: str | None = None
    role_aliases: dict[str, str] = Field(default_factory=dict)  # e.g. {PSS: peer support specialist}
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("study name is empty")
        return v


class SegmentConfig(_Strict):
    unit: Literal["turn", "sentence", "paragraph"] = "turn"
    context_roles: list[str] = Field(default_factory=lambda: list(DEFAULT_CONTEXT_ROLES))
    code_speakers: list[str] | None = None  # speakers or roles to code; None: all but context roles
    spacy_model: str = "en_core_web_sm"
    min_chars: int = Field(default=1, ge=0)


class EmbeddingConfig(_Strict):
    model: str = "all-MiniLM-L6-v2"
    batch_size: int = Field(default=64, ge=1)
    device: str = "cpu"
    cache: bool = True


class ProposeConfig(_Strict):
    # zero-shot proposer (v3: scores are the estimated chance that a person accepts the code; v4: v3 + the code name's words)
    proposer: str = "precode.similarity.v4"
    top_k: int = Field(default=3, ge=1)  # at most this many codes a segment
    # calibrated proposers: each segment gets the 0..top_k codes that keep the proposals' expected precision at
    # this target (0.6: bench/results/proposals.md); a segment where none clears it is `uncoded`. null: the
    # legacy rule (the top_k best codes scoring at least `threshold`)
    target_precision: float | None = Field(default=0.6, gt=0, lt=1)
    # sets that hold a right code with this probability (split conformal on the project's coded examples),
    # instead of the precision target; e.g. 0.9. Needs 20+ coded segments; the run says what it measured
    coverage: float | None = Field(default=None, gt=0, lt=1)
    category_backoff: bool = True  # propose a category (flag category_only) where it is clear and no code is
    threshold: float = Field(default=0.35, ge=0, le=1)  # no proposal scores below this
    confident: float = Field(default=0.6, ge=0, le=1)
    ambiguity_margin: float = Field(default=0.03, ge=0, le=1)
    use_question: bool = True
    question_weight: float = Field(default=0.05, ge=0)
    context_weight: float = Field(default=0.0, ge=0, le=1)
    train: list[str] = Field(default_factory=list)  # coded material (.csv/.xlsx text+code, or .qdpx) to learn from
    train_offsets: Literal["auto", "codepoint", "utf16"] = "auto"  # how a .qdpx in train counts positions (issue 16)
    # inside a project: learn from the accepted/rejected/added codes of every coder (true), of none (false),
    # or of the coders named (e.g. [ana]: a second coder's proposals are not steered by the first one's)
    learn_from_decisions: bool | list[str] = True
    min_examples: int = Field(default=5, ge=1)  # codes with fewer examples stay zero-shot
    # head used once there are examples (v4: v3 + self-training on the undecided segments; v3: embedding + layer
    # view + form; v2: without the layer view; v1: embedding only)
    # (v5: v4 with calibrated scores, the chance that a person accepts the code; v6: v5 + whether the segment
    # uses the words of the code's name, weighed on the project's examples; v7: v6 + words close to the name's
    # words count too, by their word vectors; v8: v7 + the share of the nearest coded examples that carry the code,
    # and a code an example was not given, while it was given others, weighs as a negative the mean number of
    # codes per coded example, 1 when each has one code)
    learner: Literal["precode.fewshot.v8", "precode.fewshot.v7", "precode.fewshot.v6", "precode.fewshot.v5",
                     "precode.fewshot.v4", "precode.fewshot.v3", "precode.fewshot.v2", "precode.fewshot.v1"] = "precode.fewshot.v8"
    form_weight: float = Field(default=1.5, ge=0)  # fewshot.v2-v5: weight of the form features beside the embedding
    # fewshot.v5/v6 in a batch run: keep the form features only where they lower the out-of-fold log-loss of the
    # project's coded examples (they help codes that are acts of speech, add noise where codes are topics);
    # the review follows the run's choice
    select_form: bool = True
    layer_weight: float = Field(default=2.0, ge=0)  # fewshot.v3/v4: weight of the layer view (0: none)
    # fewshot.v4: an undecided segment whose rank-1 code is a learned one scoring at least this is used as
    # its example in a second fit (self-training; never shown as a decision)
    self_train: float = Field(default=0.6, gt=0, lt=1)
    layer: int | None = Field(default=None, ge=1)  # the encoder's hidden layer of the layer view (default: the middle one)
    sim_center: float | None = None  # cosine that maps to score 0.5 (default: the proposer's own)
    sim_scale: float | None = Field(default=None, gt=0)


class ExportConfig(_Strict):
    formats: list[Literal["csv", "xlsx"]] = ["csv", "xlsx"]  # pydantic copies a mutable default


class RedactConfig(_Strict):
    """De-identify each transcript right after it is read (before segments, embeddings and exports)."""

    enabled: bool = False
    known: str | None = None  # YAML of known names (participants, staff, sites, aliases)
    key: str | None = None  # pseudonym key (JSON); must not sit inside the output folder
    types: list[str] | None = None  # default: all types
    spacy_model: str = "en_core_web_sm"


class Limits(_Strict):
    max_file_mb: float = Field(default=50, gt=0)
    max_segments: int = Field(default=200_000, ge=1)
    # a .docx/.xlsx is a zip: what one file may unzip to, its compression ratio, its number of members
    max_unzipped_mb: float = Field(default=100, gt=0)
    max_zip_ratio: float = Field(default=100, gt=1)
    max_zip_members: int = Field(default=10_000, ge=1)
    # a file in an input folder that is a symbolic link leading out of it is refused unless this is true
    allow_outside_symlinks: bool = False

    def zip_limits(self):
        from .safety import ZipLimits

        return ZipLimits(self.max_unzipped_mb, self.max_unzipped_mb, self.max_zip_ratio, self.max_zip_members)


class Config(_Strict):
    project: ProjectConfig = Field(default_factory=ProjectConfig)
    studies: list[StudyConfig] = Field(min_length=1)
    segment: SegmentConfig = Field(default_factory=SegmentConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    propose: ProposeConfig = Field(default_factory=ProposeConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    redact: RedactConfig = Field(default_factory=RedactConfig)
    limits: Limits = Field(default_factory=Limits)
    seed: int = 0

    # not part of the file: where it was read from (for resolving relative paths)
    _base_dir: Path = Path(".")

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        # lexically tidy (configs/../outputs -> outputs), so printed paths read as a person wrote them
        return p if p.is_absolute() else Path(os.path.normpath(self._base_dir / p))

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.project.output_dir)

    @property
    def store_path(self) -> Path:
        if self.project.store:
            return self.resolve(self.project.store)
        return self.output_dir / STORE_FILE

    def canonical_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names valid at ``loc`` (for 'did you mean' hints)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        nxt = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nxt is None:
            return []
        current = nxt
    return list(getattr(current, "model_fields", {}))


def format_validation_error(err: ValidationError, model: type[BaseModel]) -> list[str]:
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        where = " -> ".join(str(p) for p in loc) or "(top)"
        if e["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(str(loc[-1]), _known_keys(model, loc), n=1)
            msg = "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else "")
        elif e["type"] == "missing":
            msg = "missing required key"
        else:
            msg = e["msg"]
        problems.append(f"[{where}] {msg}")
    return problems


def apply_overrides(data: dict, overrides: dict[str, Any]) -> dict:
    """``{"propose.top_k": 5}`` sets ``data["propose"]["top_k"] = 5``."""
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError("--set", f"[{dotted}] '{p}' is not a section")
        node[leaf] = value
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """``propose.top_k=5`` -> ("propose.top_k", 5); values are read as YAML scalars."""
    if "=" not in text:
        raise ConfigError("--set", f"'{text}' should look like section.key=value")
    key, _, raw = text.partition("=")
    return key.strip(), yaml.safe_load(raw)


def config_from_dict(data: Any, source: str | Path = "<config>", base_dir: Path | None = None) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(source, "a config must be a YAML mapping of sections")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, format_validation_error(err, Config)) from None
    names = [s.name for s in cfg.studies]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(source, f"[studies] duplicate study name: {', '.join(dupes)}")
    cfg._base_dir = base_dir if base_dir is not None else Path(".")
    return cfg


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, f"cannot read: {err}") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(path, f"not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if data is None:
        raise ConfigError(path, "the config is empty")
    if overrides and isinstance(data, dict):
        data = apply_overrides(data, overrides)
    return config_from_dict(data, path, base_dir=path.resolve().parent)
