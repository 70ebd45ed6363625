"""Every Bicep file parses with both offline parsers, and the pieces fit.

pycep-parser and tree-sitter-bicep read Bicep syntax but check neither names
nor types (the compiler itself cannot be installed offline: ``az bicep build``
downloads it), so the wiring a compiler
would check is checked here: module paths, module parameters, the names taken
from abbreviations.json.  The real compile, ``az bicep build``, is the first
thing scripts/deploy.sh does where Azure is reachable.
"""

from __future__ import annotations

import json
import re

import pytest
import tree_sitter
import tree_sitter_bicep

from tests.infra.templates import INFRA, bicep_files, parse, text

FILES = [str(p.relative_to(INFRA)) for p in bicep_files()]


def test_the_expected_templates_exist():
    assert set(FILES) >= {"main.bicep", "app/api.bicep", "app/storage.bicep", "app/monitoring.bicep",
                          "app/keyvault.bicep", "app/rbac.bicep"}


@pytest.mark.parametrize("relative", FILES)
def test_pycep_parses(relative):
    parsed = parse(relative)
    assert parsed["resources"] or parsed["modules"], f"{relative} declares nothing"


@pytest.mark.parametrize("relative", FILES)
def test_tree_sitter_parses_without_errors(relative):
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))
    tree = parser.parse((INFRA / relative).read_bytes())
    assert not tree.root_node.has_error, f"{relative}: tree-sitter-bicep reports a syntax error"


@pytest.mark.parametrize("relative", FILES)
def test_no_syntax_the_parsers_cannot_read(relative):
    # The spread operator ({ ...x }) is read by neither parser.
    assert not re.search(r"\.\.\.\s*[A-Za-z_(]", text(relative))


def test_modules_exist_and_get_exactly_their_parameters():
    main = parse("main.bicep")
    assert main["modules"], "main.bicep uses no modules"
    for name, module in main["modules"].items():
        path = module["detail"]["path"]
        assert (INFRA / path).is_file(), f"module {name}: {path} is missing"
        declared = parse(path)["parameters"]
        passed = set(module["config"]["params"])
        assert passed <= set(declared), f"module {name} passes unknown parameters {passed - set(declared)}"
        required = {p for p, spec in declared.items() if "default" not in spec}
        assert required <= passed, f"module {name} misses required parameters {required - passed}"


def test_module_outputs_used_by_main_exist():
    main = parse("main.bicep")
    paths = {name: module["detail"]["path"] for name, module in main["modules"].items()}
    for module, output in set(re.findall(r"\b(\w+)\.outputs\.(\w+)", text("main.bicep"))):
        assert module in paths, f"{module}.outputs: no such module"
        assert output in parse(paths[module])["outputs"], f"{module}.outputs.{output} is not declared"


def test_abbreviations_used_are_defined():
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text(encoding="utf-8"))
    used = set(re.findall(r"\babbrs\.(\w+)", text("main.bicep")))
    assert used and used <= set(abbreviations), f"undefined abbreviations: {used - set(abbreviations)}"


def test_parameters_file_names_main_parameters():
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert set(parameters) <= set(parse("main.bicep")["parameters"])
