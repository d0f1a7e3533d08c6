"""workers.build.install_policy on projects as users (and attackers) write them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workers.build.install_policy import DependencyRefused, Policy, check_sources, sanitise_config

RULES = Policy("https://registry.npmjs.org/", (), allow_remote=False)


def project(tmp_path: Path, dependencies: dict | None = None, **files: str) -> Path:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    (root / "package.json").write_text(json.dumps({"name": "p", "dependencies": dependencies or {}}))
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(("spec", "kind"), [
    ("http://127.0.0.1:9/x.tgz", "remote tarball (http://127.0.0.1:9/x.tgz)"),
    ("https://example.com/x.tgz", "remote tarball"),
    ("git+https://github.com/a/b.git", "git dependency"),
    ("git+ssh://git@github.com/a/b.git", "git dependency"),
    ("github:a/b", "git dependency"),
    ("a/b#main", "git dependency"),
    ("npm:lodash@http://127.0.0.1:9/x.tgz", "remote tarball"),
])
def test_git_and_remote_tarball_dependencies_are_refused_by_name(tmp_path, spec, kind):
    root = project(tmp_path, {"evil": spec})
    with pytest.raises(DependencyRefused) as refused:
        check_sources(root, RULES)
    message = str(refused.value)
    assert message.startswith(f'package.json: dependency "evil" is a {kind}')
    assert "WEBBUILDER_INSTALL_ALLOW_REMOTE_DEPS=1" in message


def test_an_operator_may_allow_them(tmp_path):
    root = project(tmp_path, {"a": "github:a/b", "b": "https://example.com/x.tgz"})
    assert check_sources(root, Policy(RULES.registry, (), allow_remote=True)).local is False


def test_registry_specs_and_workspace_packages_pass(tmp_path):
    root = project(tmp_path, {"react": "^19.1.0", "ts": "~5.9.2", "range": ">=1.0.0 <2", "alias": "npm:react@19.1.2", "tag": "latest",
                              "local": "file:packages/ui", "ws": "workspace:*",
                              "on-registry": "https://registry.npmjs.org/react/-/react-19.1.2.tgz"})
    assert check_sources(root, RULES).local is True


@pytest.mark.parametrize("spec", ["file:../../other-job/source", "link:/etc", "../outside", "file:/root/.ssh"])
def test_local_dependencies_must_stay_in_the_upload(tmp_path, spec):
    root = project(tmp_path, {"local": spec})
    with pytest.raises(DependencyRefused, match="points outside the upload"):
        check_sources(root, RULES)


def test_nested_package_files_and_overrides_are_checked(tmp_path):
    root = project(tmp_path, {}, **{"packages/ui/package.json": json.dumps({"devDependencies": {"x": "git://h/x"}})})
    with pytest.raises(DependencyRefused, match='packages/ui/package.json: dependency "x" is a git dependency'):
        check_sources(root, RULES)
    (root / "packages/ui/package.json").unlink()
    (root / "package.json").write_text(json.dumps({"overrides": {"a": {"b": "http://127.0.0.1:9/b.tgz"}}}))
    with pytest.raises(DependencyRefused, match='dependency "b" is a remote tarball'):
        check_sources(root, RULES)


@pytest.mark.parametrize(("lockfile", "text"), [
    ("package-lock.json", json.dumps({"packages": {"node_modules/react": {"resolved": "http://127.0.0.1:9/react.tgz"}}})),
    ("yarn.lock", 'react@^19:\n  version "19.1.2"\n  resolved "http://10.0.0.5/react.tgz#abc"\n'),
    ("yarn.lock", "__metadata:\n  version: 8\n\n\"react@npm:^19\":\n  resolution: \"react@http://127.0.0.1:9/react.tgz\"\n"),
    ("bun.lock", "{\"packages\": {\"react\": [\"react@19.1.2\", \"http://127.0.0.1:9/react.tgz\", {}, \"sha512-x\"]}}"),
    ("pnpm-lock.yaml", "packages:\n  react@19.1.2:\n    resolution: {tarball: http://127.0.0.1:9/react.tgz}\n"),
])
def test_lockfile_urls_off_the_registries_are_refused(tmp_path, lockfile, text):
    root = project(tmp_path, {"react": "^19"}, **{lockfile: text})
    with pytest.raises(DependencyRefused) as refused:
        check_sources(root, RULES)
    assert str(refused.value).startswith(f"{lockfile} resolves a package from http://")


def test_public_npm_and_yarn_registry_urls_pass(tmp_path):
    lock = {"packages": {
        "node_modules/react": {"resolved": "https://registry.npmjs.org/react/-/react-19.1.2.tgz"},
        "node_modules/scheduler": {"resolved": "https://registry.yarnpkg.com/scheduler/-/scheduler-0.26.0.tgz"},
    }}
    root = project(tmp_path, {"react": "^19"}, **{"package-lock.json": json.dumps(lock)})
    check_sources(root, RULES)


def test_npmrc_keeps_only_layout_settings_and_names_what_it_dropped(tmp_path):
    npmrc = "\n".join([
        "registry=http://127.0.0.1:9/", "@evil:registry=http://127.0.0.1:9/", "proxy=http://127.0.0.1:9",
        "https-proxy=http://127.0.0.1:9", "strict-ssl=false", "cafile=/etc/evil.pem", "ignore-scripts=false",
        "script-shell=/bin/evil", "noproxy=*", "//127.0.0.1:9/:_authToken=stolen",
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}", "legacy-peer-deps=true", "# a comment",
    ])
    root = project(tmp_path, {}, **{".npmrc": npmrc})
    result = sanitise_config(root, RULES)
    assert (root / ".npmrc").read_text().splitlines() == ["//registry.npmjs.org/:_authToken=${NPM_TOKEN}", "legacy-peer-deps=true", "# a comment"]
    assert result.dropped == [f".npmrc: {key}" for key in (
        "registry", "@evil:registry", "proxy", "https-proxy", "strict-ssl", "cafile", "ignore-scripts",
        "script-shell", "noproxy", "//127.0.0.1:9/:_authToken")]
    assert "legacy-peer-deps=true" in result.effective


def test_yarn_and_bun_settings_lose_registries_proxies_and_code(tmp_path):
    yarnrc_yml = "\n".join([
        "nodeLinker: node-modules", "npmRegistryServer: http://127.0.0.1:9", "yarnPath: .yarn/evil.cjs",
        "plugins:", "  - path: .yarn/plugins/evil.cjs", "npmScopes:", "  evil:", "    npmRegistryServer: http://x",
        "httpProxy: http://127.0.0.1:9", "enableStrictSsl: false", "enableGlobalCache: false",
    ])
    yarnrc = 'registry "http://127.0.0.1:9/"\n"@evil:registry" "http://x/"\nnetwork-timeout 600000\nyarn-path ".yarn/evil.js"\n'
    bunfig = "\n".join([
        'preload = ["./evil.ts"]', "[install]", 'registry = "http://127.0.0.1:9/"', "exact = true",
        'cafile = "evil.pem"', "[install.scopes]", 'evil = "http://x/"', "[run]", "bun = true",
    ])
    root = project(tmp_path, {}, **{".yarnrc.yml": yarnrc_yml, ".yarnrc": yarnrc, "bunfig.toml": bunfig})
    result = sanitise_config(root, RULES)
    assert (root / ".yarnrc.yml").read_text().splitlines() == ["nodeLinker: node-modules", "enableGlobalCache: false"]
    assert (root / ".yarnrc").read_text().splitlines() == ["network-timeout 600000"]
    assert (root / "bunfig.toml").read_text().splitlines() == ["[install]", "exact = true", "[run]", "bun = true"]
    assert ".yarnrc.yml: npmRegistryServer" in result.dropped and ".yarnrc.yml: plugins" in result.dropped
    assert ".yarnrc: yarn-path" in result.dropped and 'bunfig.toml: [install] registry' in result.dropped
    assert "bunfig.toml: preload" in result.dropped


def test_funding_links_in_a_lockfile_are_not_sources(tmp_path):
    lock = {"packages": {"node_modules/@babel/core": {
        "resolved": "https://registry.npmjs.org/@babel/core/-/core-7.28.0.tgz",
        "funding": {"type": "opencollective", "url": "https://opencollective.com/babel"}}}}
    root = project(tmp_path, {"@babel/core": "^7"}, **{"package-lock.json": json.dumps(lock)})
    check_sources(root, RULES)


def test_a_linked_folder_in_the_lockfile_must_stay_in_the_upload(tmp_path):
    lock = {"packages": {"node_modules/ui": {"resolved": "../../other-job/source", "link": True}}}
    root = project(tmp_path, {}, **{"package-lock.json": json.dumps(lock)})
    with pytest.raises(DependencyRefused, match="links a package from ../../other-job/source, outside the upload"):
        check_sources(root, RULES)
