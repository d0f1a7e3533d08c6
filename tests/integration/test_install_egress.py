"""Hostile projects against the network of the install and the build, and the disk, built by a real
worker process. A listener on the host's 127.0.0.1 stands for the services there (a database, an
admin port): whatever the project names, it must see zero connections."""

from __future__ import annotations

import json

import pytest

from tests.helpers import make_user
from tests.integration.test_publish_attacks import ended, shell
from tests.integration.test_worker_builds import submit_zip
from tests.projects import publish_js, react_project, scripted_project
from tests.unit.test_egress_proxy import Listener
from workers.config import settings

pytestmark = pytest.mark.integration


@pytest.fixture
def listener():
    found = Listener()
    yield found
    found.close()


def hostile_npmrc(port: int) -> str:
    here = f"http://127.0.0.1:{port}/"
    return "\n".join([f"registry={here}", f"@types:registry={here}", f"proxy={here}", f"https-proxy={here}",
                      "noproxy=*", "strict-ssl=false", f"//127.0.0.1:{port}/:_authToken=x", ""])


def with_package(folder, edit) -> None:
    package = json.loads((folder / "package.json").read_text())
    edit(package)
    (folder / "package.json").write_text(json.dumps(package, indent=2))


def test_the_install_reaches_the_registry_and_nothing_else(env, tmp_path, processes, listener):
    processes.worker(env)
    mallory = make_user("mallory")
    here = f"http://127.0.0.1:{listener.port}"

    tarball = react_project(tmp_path / "tarball-dependency", **{".npmrc": hostile_npmrc(listener.port)})
    with_package(tarball, lambda p: p["dependencies"].update(evil=f"{here}/x.tgz"))
    (tarball / "package-lock.json").unlink()

    locked = react_project(tmp_path / "lockfile-url")
    lock = json.loads((locked / "package-lock.json").read_text())
    lock["packages"]["node_modules/react"]["resolved"] = f"{here}/react.tgz"
    (locked / "package-lock.json").write_text(json.dumps(lock, indent=2))

    # Nothing refused up front: only its settings point at the listener, which the service overrides.
    npmrc_only = react_project(tmp_path / "npmrc-only", **{".npmrc": hostile_npmrc(listener.port)})

    jobs = {name: submit_zip(mallory, folder, name) for name, folder in
            (("tarball", tarball), ("lockfile", locked), ("npmrc", npmrc_only))}
    results = {name: ended(job_id) for name, job_id in jobs.items()}

    assert results["tarball"].status == "failed"
    assert results["tarball"].error.startswith(
        f'install: install refused: package.json: dependency "evil" is a remote tarball ({here}/x.tgz)')
    assert results["lockfile"].status == "failed"
    assert results["lockfile"].error.startswith(f"install: install refused: package-lock.json resolves a package from {here}/react.tgz")

    normal = results["npmrc"]
    assert normal.status == "completed", normal.error
    assert normal.steps["install"]["cache"] == "miss", "a fresh data dir: npm fetched through the proxy"
    logs = normal.logs
    assert ("ignored project settings the service decides itself: .npmrc: registry, .npmrc: @types:registry, "
            ".npmrc: proxy, .npmrc: https-proxy, .npmrc: noproxy, .npmrc: strict-ssl, "
            f".npmrc: //127.0.0.1:{listener.port}/:_authToken") in logs
    assert "network: only registry.npmjs.org, registry.yarnpkg.com, through the egress proxy" in logs
    assert listener.accepted == 0


def test_a_build_has_no_network_and_no_room_for_a_huge_file(env, tmp_path, processes, listener):
    processes.worker({**env, "WEBBUILDER_BUILD_DISK_MB": "64", "WEBBUILDER_BUILD_TMP_MB": "16"})
    mallory = make_user("mallory")
    reach = ("node -e \"require('net').connect(+process.argv[1], '127.0.0.1')"
             ".on('connect', () => console.log('REACHED')).on('error', e => console.log('blocked', e.code))\" "
             f"{listener.port} > dist/net.txt")
    scripts = {
        "reach-host": shell(reach),
        "huge-file": shell("truncate -s 20G dist/big.bin"),
        # faster than the folder walks: caught when the step ends
        "many-files": shell("i=0; while [ $i -lt 20 ]; do head -c 4M /dev/zero > part-$i; i=$((i + 1)); done"),
        "full-tmp": shell("head -c 64M /dev/zero > /tmp/fill"),
    }
    jobs = {name: submit_zip(mallory, scripted_project(tmp_path / name, script), name) for name, script in scripts.items()}
    reached, huge, many, tmp = (ended(jobs[name]) for name in scripts)
    assert reached.status == "completed", reached.error
    assert (settings().sites_dir / reached.site_slug / "net.txt").read_text() == "blocked ECONNREFUSED\n"
    assert "network" not in reached.logs.split("$ npm run build")[1].split("build: done")[0], "no bridge for a build by default"
    assert (huge.status, many.status, tmp.status) == ("failed", "failed", "failed")
    assert huge.error.startswith("build: disk limit (64 MB): a file may not grow past it")
    assert many.error == "build: disk limit (64 MB): the build folder grew past it"
    assert tmp.error.startswith("build: out of space: /tmp holds 16 MB (WEBBUILDER_BUILD_TMP_MB), or the host's disk is full")
    assert huge.site_slug is None and many.site_slug is None
    assert listener.accepted == 0


def test_build_egress_goes_only_where_the_operator_allows(env, tmp_path, processes, listener):
    """WEBBUILDER_BUILD_EGRESS_ALLOW: the build reaches the named host through the proxy (npm honours
    the proxy variables); a destination off the list is refused and named once in the log."""
    processes.worker({**env, "WEBBUILDER_BUILD_EGRESS_ALLOW": "registry.npmjs.org"})
    mallory = make_user("mallory")
    here = f"http://127.0.0.1:{listener.port}/"
    script = (publish_js("'egress'") + "import { execSync } from 'node:child_process'\n"
              "const run = (c) => { try { return execSync(c, { encoding: 'utf8' }) } catch (e) { return 'FAILED ' + e.status } }\n"
              "console.log('registry says react', run('npm view react@19.1.2 version --registry https://registry.npmjs.org/').trim())\n"
              f"for (let i = 0; i < 2; i++) console.log('listener:', run('npm view x --registry {here}').slice(0, 40))\n")
    done = ended(submit_zip(mallory, scripted_project(tmp_path / "egress", script), "egress"))
    assert done.status == "completed", done.error
    assert "registry says react 19.1.2" in done.logs
    assert "network: only registry.npmjs.org, through the egress proxy" in done.logs
    assert done.logs.count(f"network: refused 127.0.0.1:{listener.port} (not on the allowlist)") == 1
    assert listener.accepted == 0
