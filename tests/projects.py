"""Small real projects for the tests: the react-ts fixture and broken variants of it."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "react-ts"


def react_project(target: Path, **replace: str) -> Path:
    """Copy the fixture to `target`; `replace` maps relative paths to new file contents."""
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("node_modules", "dist"))
    for relative, text in replace.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return target


TYPE_ERROR_APP = """export function App() {
  const title: string = 42
  return <h1>{title}</h1>
}
"""


def with_missing_dependency(target: Path) -> Path:
    react_project(target)
    package = json.loads((target / "package.json").read_text())
    package["dependencies"]["webbuilder-no-such-package-xyz"] = "1.0.0"
    (target / "package.json").write_text(json.dumps(package, indent=2))
    (target / "package-lock.json").unlink()
    return target


def static_site(target: Path, text: str = "Plain static site") -> Path:
    target.mkdir(parents=True)
    (target / "index.html").write_text(f"<!doctype html><title>static</title><h1>{text}</h1>")
    return target


def zip_folder(folder: Path, zip_path: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return zip_path


def scripted_project(target: Path, build_js: str, *args: str) -> Path:
    """A project without dependencies whose `npm run build` runs `node build.mjs ARGS`: the build does
    exactly what the script says (hostile and misbehaving builds in the fault tests). `args` lets a
    test find the build's process by its command line."""
    target.mkdir(parents=True)
    command = " ".join(["node", "build.mjs", *args])
    package = {"name": "scripted", "private": True, "version": "1.0.0", "scripts": {"build": command}}
    (target / "package.json").write_text(json.dumps(package, indent=2))
    (target / "build.mjs").write_text(build_js)
    return target


# build.mjs scripts of builds that misbehave, for scripted_project. Those that start processes pass
# the script's first argument (a marker) on to them, so a test can find them by their command line.
NEVER_ENDING_JS = (  # with a detached child that leaves the process group
    "import { spawn } from 'node:child_process'\n"
    "spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', process.argv[2]], { detached: true, stdio: 'ignore' })\n"
    "setInterval(() => {}, 1000)\n"
)
FORK_BOMB_JS = (
    "import { spawn } from 'node:child_process'\n"
    "const bomb = () => { try { spawn('sh', ['-c', 'b() { b | b & }; b; sleep 600', process.argv[2]], { stdio: 'ignore' }) } catch {} }\n"
    "setInterval(bomb, 5)\n"
)
MEMORY_EATER_JS = "const blocks = []\nsetInterval(() => blocks.push(Buffer.alloc(8 << 20, 1)), 5)\n"


def publish_js(html_expression: str) -> str:
    """build.mjs code that writes dist/index.html from a JavaScript expression."""
    return (
        "import fs from 'node:fs'\n"
        "fs.mkdirSync('dist', { recursive: true })\n"
        f"fs.writeFileSync('dist/index.html', String({html_expression}))\n"
    )
