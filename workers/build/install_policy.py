"""What a project may make its dependency install do: which sources, which settings, which hosts.

The install runs behind the egress proxy (`egress_proxy`), which reaches only the hosts `Policy`
names: the registry the service's npm is configured for, the public yarn registry (an alias of npm's,
which lockfiles name) and `WEBBUILDER_INSTALL_EGRESS_ALLOW`. Before the install starts:
- `check_sources` refuses git and remote-tarball dependencies (unless the operator allows them),
  `file:`/`link:` ones that leave the upload, and lockfile URLs off the registries, naming each;
- `sanitise_config` rewrites the project's `.npmrc`, `.yarnrc`, `.yarnrc.yml` and `bunfig.toml` without
  the keys that choose registries, proxies, TLS checks, CAs or scripts (the service's settings win)
  and says which keys it dropped. What it keeps is part of the dependency cache's key.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from workers.build.egress_proxy import Allowlist
from workers.build.sandbox import BRIDGE_URL

PUBLIC_NPM = "https://registry.npmjs.org/"
PUBLIC_YARN = "https://registry.yarnpkg.com/"
DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
OVERRIDE_FIELDS = ("overrides", "resolutions")
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock")
MAX_PACKAGE_FILES = 500
_GIT_PREFIXES = ("git+", "git://", "git@", "ssh://", "github:", "gitlab:", "bitbucket:", "gist:")
# Sources in lockfiles: yarn 1's `resolved "URL"` and berry's `resolution: "name@URL"`; pnpm's
# `tarball:` and `repo:`; bun.lock's quoted URLs. Package metadata (funding links) is not matched.
_YARN_SOURCE = re.compile(r"""^\s+(?:resolved\s+"?|resolution:\s+"?(?:@[^@"]+|[^@"]+)@)([^"\s#]+)""", re.MULTILINE)
_PNPM_SOURCE = re.compile(r"""(?:tarball|repo):\s*['"]?([^'",}\s]+)""")
_QUOTED_URL = re.compile(r'"((?:git\+)?[a-z][a-z0-9+.-]*://[^"]+)"', re.IGNORECASE)

# .npmrc keys a project keeps: how to resolve and lay out its tree. Anything else (registries, scoped
# registries, proxies, strict-ssl, ca/cafile/cert/key, scripts and their shell, prefixes, userconfig,
# node-options …) is dropped. Auth lines are kept for the allowed registries only.
NPMRC_KEPT = frozenset({
    "legacy-peer-deps", "strict-peer-deps", "engine-strict", "save-exact", "save-prefix", "package-lock",
    "install-strategy", "install-links", "prefer-dedupe", "omit", "include", "optional", "production",
    "auto-install-peers", "strict-peer-dependencies", "node-linker", "shamefully-hoist", "hoist",
    "hoist-pattern", "public-hoist-pattern", "link-workspace-packages", "prefer-workspace-packages",
    "shared-workspace-lockfile", "dedupe-peer-dependents", "resolution-mode", "lockfile", "workspaces-update",
})
_AUTH_KEYS = ("_authToken", "_auth", "username", "_password", "always-auth")
# Keys of yarn's and bun's files that choose where packages come from, how TLS is checked, or what runs.
_YARN_DROPPED = re.compile(
    r"registry|proxy|ssl|^ca$|cafile|cert|^key$|path$|script|plugin|unsafe|npmScopes|npmAuth|"
    r"enableScripts|networkSettings|injectEnvironmentFiles|httpsKeyFilePath", re.IGNORECASE)
_BUN_DROPPED = {"registry", "scopes", "cafile", "ca", "preload"}


class DependencyRefused(Exception):
    """A dependency the install may not fetch; the message names it and the way out."""


@dataclass(frozen=True)
class Policy:
    registry: str  # the service's npm registry, ending in '/'
    extra_hosts: tuple[str, ...]  # WEBBUILDER_INSTALL_EGRESS_ALLOW
    allow_remote: bool  # WEBBUILDER_INSTALL_ALLOW_REMOTE_DEPS: git and tarball dependencies

    @property
    def registries(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.registry, PUBLIC_NPM, PUBLIC_YARN)))

    def allowlist(self) -> Allowlist:
        return Allowlist([self.registry, PUBLIC_YARN, *self.extra_hosts])

    def env(self) -> dict[str, str]:
        """The install's own settings: they beat any project file (npm reads the environment after
        the project's .npmrc), and the proxy variables send git and other tools to the bridge too."""
        return {
            "npm_config_registry": self.registry,
            "npm_config_proxy": BRIDGE_URL,
            "npm_config_https_proxy": BRIDGE_URL,
            "npm_config_noproxy": "",
            "npm_config_strict_ssl": "true",
            **proxy_env(),
        }


def proxy_env() -> dict[str, str]:
    """The proxy variables, in both spellings, for any step behind the bridge."""
    return {name: BRIDGE_URL for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}


@functools.cache
def _npm_registry() -> str:
    """What the service's own npm is configured for (its user and global .npmrc, its environment)."""
    try:
        found = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        found = ""
    return found if found.startswith(("https://", "http://")) else PUBLIC_NPM


def policy(registry: str | None, extra_hosts: tuple[str, ...], allow_remote: bool) -> Policy:
    chosen = registry or _npm_registry()
    return Policy(chosen if chosen.endswith("/") else chosen + "/", extra_hosts, allow_remote)


# --- sources ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    local: bool  # some dependency is a folder or tarball of the upload's own


def check_sources(project: Path, rules: Policy) -> Sources:
    """Raise DependencyRefused for the first dependency or lockfile entry the install may not fetch."""
    local = False
    for manifest in _manifests(project):
        try:
            data = json.loads(manifest.read_text(errors="replace"))
        except (OSError, ValueError):
            continue  # npm reports a broken package.json in its own words
        if not isinstance(data, dict):
            continue
        where = manifest.relative_to(project)
        for name, spec in _specs(data):
            local = _check_spec(project, manifest.parent, where, name, spec, rules) or local
    for name in LOCKFILES:
        lockfile = project / name
        if not lockfile.is_file():
            continue
        for url in _lockfile_sources(lockfile):
            if "://" not in url:  # a linked folder of the project's (package-lock's link entries)
                if not _inside(project, project, url):
                    raise DependencyRefused(f"{name} links a package from {url}, outside the upload")
            elif not _on_registry(url, rules) and not (rules.allow_remote and _is_git(url)):
                raise DependencyRefused(
                    f"{name} resolves a package from {url}: the install reaches only the package registry "
                    f"({rules.registry}); regenerate the lockfile against it")
    return Sources(local)


def _lockfile_sources(lockfile: Path) -> list[str]:
    """Where a lockfile says its packages come from: URLs, and package-lock's linked folders."""
    text = lockfile.read_text(errors="replace")
    if lockfile.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError:
            return []  # npm reports a broken lockfile in its own words
        found, pending = [], [data.get("packages"), data.get("dependencies")]
        while pending:
            table = pending.pop()
            if not isinstance(table, dict):
                continue
            for entry in table.values():
                if isinstance(entry, dict):
                    if isinstance(entry.get("resolved"), str):
                        found.append(entry["resolved"])
                    pending.append(entry.get("dependencies"))  # lockfile v1 nests them
        return found
    pattern = {"yarn.lock": _YARN_SOURCE, "pnpm-lock.yaml": _PNPM_SOURCE}.get(lockfile.name, _QUOTED_URL)
    return [match.group(1) for match in pattern.finditer(text) if "://" in match.group(1) or match.group(1).startswith("git")]


def _manifests(project: Path) -> list[Path]:
    found = []
    for folder, subfolders, files in os.walk(project):
        subfolders[:] = [name for name in subfolders if name != "node_modules" and not name.startswith(".")]
        if "package.json" in files:
            found.append(Path(folder) / "package.json")
            if len(found) >= MAX_PACKAGE_FILES:
                break
    return found


def _specs(data: dict) -> list[tuple[str, str]]:
    """(name, spec) of every dependency and override, nested overrides flattened."""
    found = []
    for field in DEPENDENCY_FIELDS:
        deps = data.get(field)
        if isinstance(deps, dict):
            found += [(name, spec) for name, spec in deps.items() if isinstance(spec, str)]
    pending = [data.get(field) for field in OVERRIDE_FIELDS] + [(data.get("pnpm") or {}).get("overrides") if isinstance(data.get("pnpm"), dict) else None]
    while pending:
        table = pending.pop()
        if isinstance(table, dict):
            for name, spec in table.items():
                if isinstance(spec, str):
                    found.append((name, spec))
                else:
                    pending.append(spec)
    return found


def _check_spec(project: Path, folder: Path, where: Path, name: str, spec: str, rules: Policy) -> bool:
    """Raise DependencyRefused if the install may not fetch `spec`; True if it is a local one."""
    spec = spec.strip()
    if spec.startswith("npm:"):  # an alias: npm:real-name@range
        inner = spec[4:]
        spec = inner[inner.index("@", 1) + 1:] if "@" in inner[1:] else ""
    label = f'{where}: dependency "{name}"'
    if _is_git(spec) or _is_github_shorthand(spec):
        if not rules.allow_remote:
            raise DependencyRefused(
                f"{label} is a git dependency ({spec}): the install reaches only the package registry. "
                "Publish it to the registry, or an operator may allow git and tarball dependencies "
                "(WEBBUILDER_INSTALL_ALLOW_REMOTE_DEPS=1) and their hosts (WEBBUILDER_INSTALL_EGRESS_ALLOW)")
        return False
    if "://" in spec:
        if not _on_registry(spec, rules) and not rules.allow_remote:
            raise DependencyRefused(
                f"{label} is a remote tarball ({spec}): the install reaches only the package registry "
                f"({rules.registry}). Depend on a registry version, or an operator may allow tarball "
                "dependencies (WEBBUILDER_INSTALL_ALLOW_REMOTE_DEPS=1) and their hosts (WEBBUILDER_INSTALL_EGRESS_ALLOW)")
        return False
    if spec.startswith(("file:", "link:", "./", "../", "/", "~/")) or spec in (".", ".."):
        path = spec.split(":", 1)[1] if spec.startswith(("file:", "link:")) else spec
        if not _inside(project, folder, path.removeprefix("//")):
            raise DependencyRefused(f"{label} points outside the upload ({spec}): local dependencies must be inside it")
        return True
    return False


def _inside(project: Path, base: Path, path: str) -> bool:
    """Whether `path`, relative to `base`, names something in the upload (no absolute or home path,
    no `..` past its root)."""
    return not path.startswith(("/", "~/")) and Path(os.path.normpath(base / path)).is_relative_to(project)


def _is_git(spec: str) -> bool:
    return spec.lower().startswith(_GIT_PREFIXES)


def _is_github_shorthand(spec: str) -> bool:
    """`user/repo` or `user/repo#ref`: npm fetches it from GitHub."""
    return bool(re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(#.*)?", spec)) and not spec.startswith((".", "@"))


def _on_registry(url: str, rules: Policy) -> bool:
    return any(url.startswith(prefix) for prefix in rules.registries)


# --- settings files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sanitised:
    dropped: list[str]  # "file: key" for each setting left out
    effective: str  # what was kept, for the dependency cache's key


def sanitise_config(project: Path, rules: Policy) -> Sanitised:
    """Rewrite the project's package-manager settings files without what the service decides."""
    dropped: list[str] = []
    kept: list[str] = []
    hosts = {urlsplit(registry).netloc for registry in rules.registries}
    for name, keep in ((".npmrc", lambda key: _npmrc_keeps(key, hosts)),
                       (".yarnrc", lambda key: not _YARN_DROPPED.search(key.strip('"').lstrip("-"))),
                       (".yarnrc.yml", lambda key: not _YARN_DROPPED.search(key))):
        path = project / name
        if path.is_file() and not path.is_symlink():
            lines, gone = _filter_lines(path.read_text(errors="replace").splitlines(), name, keep)
            path.write_text("\n".join(lines) + "\n")
            dropped += [f"{name}: {key}" for key in gone]
            kept += [f"{name}:{line}" for line in lines if line.strip()]
    bunfig = project / "bunfig.toml"
    if bunfig.is_file() and not bunfig.is_symlink():
        lines, gone = _filter_bunfig(bunfig.read_text(errors="replace").splitlines())
        bunfig.write_text("\n".join(lines) + "\n")
        dropped += [f"bunfig.toml: {key}" for key in gone]
        kept += [f"bunfig.toml:{line}" for line in lines if line.strip()]
    return Sanitised(dropped, "\n".join([f"registry={rules.registry}", f"remote={rules.allow_remote}", *kept]))


def _npmrc_keeps(key: str, registry_hosts: set[str]) -> bool:
    if key.startswith("//"):  # //host/path/:_authToken=…: credentials for that registry
        host, _, setting = key[2:].partition("/")
        return host in registry_hosts and setting.rsplit(":", 1)[-1] in _AUTH_KEYS
    return key.lower() in NPMRC_KEPT


def _filter_lines(lines: list[str], name: str, keep) -> tuple[list[str], list[str]]:
    """Lines of an ini-like (.npmrc, .yarnrc) or YAML (top-level keys with their blocks) file."""
    result, gone, skipping = [], [], False
    yaml = name.endswith(".yml")
    for line in lines:
        stripped = line.strip()
        if yaml and line[:1] in (" ", "\t", "-"):
            if not skipping:  # inside a kept key's block
                result.append(line)
            continue
        skipping = False
        if not stripped or stripped.startswith(("#", ";")):
            result.append(line)
            continue
        if yaml:
            key = stripped.split(":", 1)[0].strip().strip("\"'")
        elif name == ".npmrc":
            key = stripped.split("=", 1)[0].strip()
        else:  # .yarnrc: `key value` or `key "value"`
            key = stripped.split(None, 1)[0]
        if keep(key):
            result.append(line)
        else:
            gone.append(key)
            skipping = yaml
    return result, gone


def _filter_bunfig(lines: list[str]) -> tuple[list[str], list[str]]:
    """bunfig.toml without the install registry, scopes and CAs, nor `preload` (code bun runs)."""
    result, gone, table = [], [], ""
    for line in lines:
        stripped = line.strip()
        header = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            table = header.group(1)
        key = stripped.split("=", 1)[0].strip() if "=" in stripped and not header else ""
        in_scopes = table.startswith("install.scopes")
        if (in_scopes and (header or key)) or (key and (table in ("", "install", "test") and key in _BUN_DROPPED)):
            gone.append(f"[{table}] {key}".replace("[] ", "") if key else f"[{table}]")
            continue
        result.append(line)
    return result, gone
