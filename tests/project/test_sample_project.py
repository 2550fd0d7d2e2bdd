"""The sample project kept as real files (samples/project/) builds the exact git history that the committed
sample is keyed by: the commits of samples/ground_truth.json, the result files of samples/results/ and the
agent commits of samples/agent/. Only git runs here (no asv), so these tests are fast."""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from samples import generate
from samples.agent_results import make_agent_commits
from samples.history import MACHINE, PROJECT_DIR, SAMPLES_DIR, STEPS, build_history, history

TRUTH = json.loads((SAMPLES_DIR / "ground_truth.json").read_text(encoding="utf-8"))


def result_hashes(folder: Path) -> set[str]:
    """The commit_hash of every asv result file under folder/<machine>/."""
    return {
        json.loads(path.read_text(encoding="utf-8"))["commit_hash"]
        for path in (folder / MACHINE).glob("*-*.json")
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[dict], list]:
    steps = history()
    repo = tmp_path_factory.mktemp("sample") / "fastfuncs"
    return repo, build_history(repo, steps), steps


def test_the_project_files_build_the_committed_history(built):
    repo, commits, steps = built
    # commits, parents, dates, subjects and planted changes: the whole ground truth, rebuilt without asv
    assert generate.ground_truth(commits, steps) == TRUTH
    shas = [c["commit"] for c in commits]
    assert result_hashes(SAMPLES_DIR / "results") == set(shas)
    log = subprocess.run(["git", "log", "--format=%H"], cwd=repo, capture_output=True, text=True, check=True)
    assert log.stdout.split() == shas[::-1]


def test_the_agent_commits_are_the_ones_measured_in_samples_agent(built):
    repo, _, _ = built
    agents = make_agent_commits(repo)
    for agent in ("human-patch", "noop"):
        assert result_hashes(SAMPLES_DIR / "agent" / agent) == {agents["base"], agents[agent]}


def test_every_file_of_every_commit_folder_is_committed_byte_for_byte(built):
    repo, commits, _ = built
    for (folder, _, _), commit in zip(STEPS, commits, strict=True):
        for path in sorted((PROJECT_DIR / folder).rglob("*")):
            if path.is_file():
                relative = path.relative_to(PROJECT_DIR / folder).as_posix()
                shown = subprocess.run(
                    ["git", "show", f"{commit['commit']}:{relative}"],
                    cwd=repo,
                    capture_output=True,
                    check=True,
                )
                assert shown.stdout == path.read_bytes(), f"{folder}/{relative}"


def copy_project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, target)
    return target


def test_a_changed_byte_in_a_commit_folder_moves_that_commit_and_the_later_ones(tmp_path):
    project = copy_project(tmp_path)
    changelog = project / "08-changelog" / "CHANGELOG.md"
    changelog.write_bytes(changelog.read_bytes().replace(b"set:", b"set;"))
    shas = [c["commit"] for c in build_history(tmp_path / "repo", history(project))]
    saved = [c["commit"] for c in TRUTH["commits"]]
    assert shas[:7] == saved[:7]
    assert all(new != old for new, old in zip(shas[7:], saved[7:], strict=True))


def test_a_missing_or_empty_commit_folder_is_named(tmp_path):
    project = copy_project(tmp_path)
    shutil.rmtree(project / "05-rename-tokenizer")
    with pytest.raises(FileNotFoundError, match="05-rename-tokenizer: the sample project's commit folder"):
        history(project)
    (project / "05-rename-tokenizer").mkdir()
    with pytest.raises(ValueError, match="05-rename-tokenizer: the sample project's commit folder holds no"):
        history(project)


def test_samples_modules_import_each_other_without_a_cycle():
    # every import, also those inside functions (generate imports agent_results lazily in main)
    modules = {path.stem: path for path in SAMPLES_DIR.glob("*.py") if path.stem != "__init__"}
    edges = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            targets += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for target in targets:
                other = target.removeprefix("samples.")
                if other in modules and other != name:
                    edges[name].add(other)

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in edges[start])

    assert edges["generate"] == {"history", "measure", "agent_results"}
    assert edges["agent_results"] == {"history", "measure"}
    assert [name for name in modules if reaches(name, name)] == []


def test_generate_loaded_from_its_path_hands_on_the_history_and_asv_config(tmp_path):
    # tests/*_support.py load samples/generate.py by path; so do `python samples/generate.py ...` runs
    spec = importlib.util.spec_from_file_location("sample_generate_by_path", SAMPLES_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [step.subject for step in module.history()] == [c["subject"] for c in TRUTH["commits"]]
    assert module.asv_conf()["benchmark_dir"] == "benchmarks"
    done = subprocess.run(
        [sys.executable, str(SAMPLES_DIR / "generate.py"), "--clone", str(tmp_path / "clone")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "commit hashes match samples/ground_truth.json"


def test_a_regeneration_leaves_the_hand_kept_sources_file_alone(tmp_path):
    sources = tmp_path / "sources.yml"
    shutil.copyfile(SAMPLES_DIR / "sources.yml", sources)
    generate.write_static_files(TRUTH, tmp_path)
    assert sources.read_bytes() == (SAMPLES_DIR / "sources.yml").read_bytes()
    assert json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8")) == TRUTH
    assert (tmp_path / "README.md").is_file()


def test_the_committed_readme_is_what_the_generator_writes():
    python = json.loads((SAMPLES_DIR / "asv.conf.json").read_text(encoding="utf-8"))["pythons"][0]
    assert generate.readme(TRUTH, python) == (SAMPLES_DIR / "README.md").read_text(encoding="utf-8")
