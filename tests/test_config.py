from __future__ import annotations

import pytest

from pipeline.config import load_config, parse_override
from pipeline.errors import ConfigError

GOOD = """
project: {name: t, output_dir: out}
studies:
  - name: s1
    inputs: [data/]
    codebook: cb.yaml
propose: {top_k: 2}
"""


def test_config_loads_and_resolves_paths_against_its_folder(write, tmp_path):
    cfg = load_config(write("sub/c.yaml", GOOD))
    assert cfg.propose.top_k == 2
    assert cfg.output_dir == tmp_path / "sub" / "out"
    assert cfg.store_path == tmp_path / "sub" / "out" / "project.sqlite"
    up = load_config(write("sub/up.yaml", GOOD.replace("output_dir: out", "output_dir: ../outputs/demo")))
    assert str(up.output_dir) == str(tmp_path / "outputs" / "demo")  # printed as written, no 'sub/..'


@pytest.mark.parametrize("text,message", [
    (GOOD.replace("top_k", "topk"), "[propose -> topk] unknown key (did you mean 'top_k'?)"),
    (GOOD.replace("    codebook: cb.yaml\n", ""), "[studies -> 0 -> codebook] missing required key"),
    (GOOD.replace("top_k: 2", "top_k: 0"), "[propose -> top_k]"),
    (GOOD.replace("project:", "projekt:"), "[projekt] unknown key (did you mean 'project'?)"),
    ("studies: [", "not valid YAML"),
    ("", "the config is empty"),
    ("- a\n- b\n", "a config must be a YAML mapping"),
    (GOOD.replace("studies:\n", "studies:\n  - {name: s1, inputs: [x], codebook: y}\n"), "duplicate study name: s1"),
])
def test_config_errors_are_one_line(write, text, message):
    p = write("c.yaml", text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_config_overrides(write):
    cfg = load_config(write("c.yaml", GOOD), dict([parse_override("propose.top_k=5"), parse_override("segment.unit=sentence")]))
    assert cfg.propose.top_k == 5 and cfg.segment.unit == "sentence"


def test_config_hash_changes_with_content(write):
    a = load_config(write("a.yaml", GOOD)).canonical_hash()
    assert a == load_config(write("b.yaml", GOOD)).canonical_hash()
    assert a != load_config(write("c.yaml", GOOD.replace("top_k: 2", "top_k: 3"))).canonical_hash()
