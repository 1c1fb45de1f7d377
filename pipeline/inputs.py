"""A study's inputs: the files its patterns, folders and globs name, and its speakers' roles."""

from __future__ import annotations

import glob
from pathlib import Path

import yaml

from .config import Config, StudyConfig
from .errors import ConfigError, printable
from .ingest import inside_folder as _inside, supported, wildcard_root as _wildcard_root
from .segment import RoleMap

SKIP_NAMES = {"readme.md", "readme.txt", "license", "license.txt", "speakers.yaml"}


def expand_inputs(patterns: list[str], base: Path, source: str,
                  allow_outside_symlinks: bool = False) -> tuple[list[Path], list[str]]:
    """Files named by paths, folders (recursively: supported types only) and globs, sorted.

    A file found in a folder or by a glob that is (or lies under) a symbolic link leading out of that
    folder is refused with one line, unless ``allow_outside_symlinks``; a file named explicitly is read
    where it points."""
    files: list[Path] = []
    problems: list[str] = []

    def keep(f: Path, folder: Path) -> bool:
        if allow_outside_symlinks or _inside(f, folder):
            return True
        problems.append(f"{printable(f)}: a symbolic link that leads outside the input folder {printable(folder)}; "
                        "refused (limits.allow_outside_symlinks: true reads it)")
        return False

    for pat in patterns:
        p = Path(pat).expanduser()
        full = p if p.is_absolute() else base / p
        if any(ch in pat for ch in "*?["):
            hits = sorted(Path(h) for h in glob.glob(str(full), recursive=True))
            hits = [h for h in hits if h.is_file()]
            if not hits:
                problems.append(f"{source}: input pattern '{pat}' matches no file")
            root = _wildcard_root(full)
            files.extend(h for h in hits if keep(h, root))
        elif full.is_dir():
            for f in sorted(full.rglob("*")):
                rel = f.relative_to(full)
                if any(part.startswith((".", "_")) for part in rel.parts) or not f.is_file():
                    continue
                if f.name.lower() in SKIP_NAMES or not supported(f):
                    continue
                if keep(f, full):
                    files.append(f)
        else:
            files.append(full)  # a missing or unsupported file is reported by the reader
    seen: set[Path] = set()
    unique = []
    for f in files:  # a file named twice (by a folder and a glob) is read once
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append(f)
    return unique, problems


def load_roles(study: StudyConfig, cfg: Config) -> RoleMap:
    table: dict[str, dict[str, str]] = {}
    if study.roles_file:
        path = cfg.resolve(study.roles_file)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise ConfigError(path, "roles file not found") from None
        except yaml.YAMLError as err:
            raise ConfigError(path, f"roles file is not valid YAML: {err}") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ConfigError(path, "roles file must map document names (or '*') to {speaker: role}")
        table.update({str(k): {str(s): str(r) for s, r in v.items()} for k, v in data.items()})
    for doc, mapping in (study.roles or {}).items():
        table.setdefault(doc, {}).update(mapping)
    return RoleMap(table, dict(study.role_aliases))
