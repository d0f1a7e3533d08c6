"""The `webbuilder` command. Configured by WEBBUILDER_URL and WEBBUILDER_TOKEN (or --url/--token).

Exit status: 0 success; 1 the build failed or was cancelled, or the server refused; 2 bad usage or
configuration. Progress and messages go to stderr; stdout carries only results a script may capture
(the job id, the preview URL, logs, tables).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from webbuilder_cli.client import ApiClient, ApiError
from webbuilder_cli.progress import describe, follow

DEFAULT_URL = "http://localhost:3000"
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UsageError(Exception):
    """Bad arguments or configuration: exit status 2."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="webbuilder", description="Build websites on a webbuilder server.")
    top.add_argument("--url", default=None, help=f"server URL (default: $WEBBUILDER_URL or {DEFAULT_URL})")
    top.add_argument("--token", default=None, help="API token (default: $WEBBUILDER_TOKEN)")
    commands = top.add_subparsers(dest="command", required=True)

    submit = commands.add_parser("submit", help="upload a project folder or .zip and queue its build")
    submit.add_argument("path", type=Path, metavar="DIR_OR_ZIP")
    submit.add_argument("--name", required=True, help="the website's name")
    submit.add_argument("--priority", type=int, default=0, help="higher builds sooner (-10..10)")
    submit.add_argument("--wait", action="store_true", help="show progress until the build ends; fail if it fails")

    deploy = commands.add_parser("deploy", help="deploy a project folder or .zip to a website (created if new); prints its address")
    deploy.add_argument("path", type=Path, metavar="DIR_OR_ZIP")
    deploy.add_argument("--site", required=True, metavar="SLUG", help="the website's address label, e.g. my-shop")
    deploy.add_argument("--message", default=None, help="a note for this deployment, e.g. the commit it builds")
    deploy.add_argument("--priority", type=int, default=0, help="higher builds sooner (-10..10)")
    deploy.add_argument("--no-wait", action="store_true", help="return once queued instead of following the build")

    commands.add_parser("sites", help="your websites, their addresses and live deployments")
    rollback = commands.add_parser("rollback", help="make an earlier deployment live again, without rebuilding")
    rollback.add_argument("site", metavar="SLUG")
    rollback.add_argument("job", type=int, nargs="?", metavar="JOB", help="the deployment to make live (default: the one live before the current one)")

    status = commands.add_parser("status", help="your queue, or one job")
    status.add_argument("job", type=int, nargs="?", metavar="JOB")
    status.add_argument("--json", action="store_true", help="print the API's JSON")

    for name, text in (("logs", "print a job's whole build log"), ("cancel", "cancel a job"), ("retry", "build a failed or cancelled job again")):
        command = commands.add_parser(name, help=text)
        command.add_argument("job", type=int, metavar="JOB")

    admin = commands.add_parser("admin", help="work on the server's database directly").add_subparsers(dest="admin_command", required=True)
    user = admin.add_parser("create-user", help="create a user")
    user.add_argument("username")
    user.add_argument("--admin", action="store_true", help="an operator: may open the Ops page and use any priority")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin instead of prompting")
    token = admin.add_parser("create-token", help="create an API token for a user and print it")
    token.add_argument("username")
    token.add_argument("--name", required=True, help="what the token is for, e.g. github-actions")
    reset = admin.add_parser("reset-password", help="set a locked-out user's password; ends all their sign-in sessions")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin instead of prompting")
    return top


def client_from(args: argparse.Namespace) -> ApiClient:
    url = args.url or os.environ.get("WEBBUILDER_URL", "").strip() or DEFAULT_URL
    token = args.token or os.environ.get("WEBBUILDER_TOKEN", "").strip()
    if not token:
        raise UsageError("set WEBBUILDER_TOKEN to an API token (create one on the API tokens page, or with `webbuilder admin create-token`)")
    return ApiClient(url, token)


def cmd_submit(client: ApiClient, args: argparse.Namespace) -> int:
    if not args.path.exists():
        raise UsageError(f"{args.path} does not exist")
    uploaded = client.upload(args.path, args.name, args.priority)
    job_id = uploaded["website"]["buildJobId"]
    err.print(f"{uploaded['message']} (job {job_id}, website {uploaded['website']['id']})")
    if not args.wait:
        out.print(job_id)
        return 0
    job = follow(client, job_id, err)
    return report_end(job)


def cmd_deploy(client: ApiClient, args: argparse.Namespace) -> int:
    if not args.path.exists():
        raise UsageError(f"{args.path} does not exist")
    site = client.website_by_slug(args.site)
    if site is None:
        uploaded = client.upload(args.path, args.site, args.priority, message=args.message, slug=args.site)
        err.print(f"new website {uploaded['website']['url']}")
    else:
        uploaded = client.upload(args.path, site["name"], args.priority, website_id=site["id"], message=args.message)
    job_id = uploaded["website"]["buildJobId"]
    err.print(f"{uploaded['message']} (job {job_id})")
    if args.no_wait:
        out.print(uploaded["website"]["url"])
        return 0
    job = follow(client, job_id, err)
    if job["status"] != "completed":
        return report_end(job)
    if job.get("live"):
        err.print(f"[green]✓ live[/green] deployment {job_id} of {job['websiteName']}")
    else:
        err.print(f"[yellow]built, not live[/yellow]: deployment {job_id} waits for promote (auto-publish is off, or a newer one is live)")
    out.print(job["websiteUrl"])
    return 0


def cmd_sites(client: ApiClient, args: argparse.Namespace) -> int:
    table = Table(title="Websites", title_justify="left")
    for column in ("Site", "Name", "Live", "Last deployment", "Address"):
        table.add_column(column)
    for site in client.websites():
        table.add_row(site["slug"], site["name"], str(site["liveJobId"] or "–"), f"{site['lastJobId']} {site['lastStatus'] or ''}".strip(), site["url"])
    out.print(table)
    return 0


def cmd_rollback(client: ApiClient, args: argparse.Namespace) -> int:
    site = client.website_by_slug(args.site)
    if site is None:
        raise ApiError(f"you have no website at {args.site!r} (see `webbuilder sites`)", 404)
    website = client.promote(site["id"], args.job) if args.job else client.rollback(site["id"])
    err.print(f"deployment {website['liveJobId']} is live")
    out.print(website["url"])
    return 0


def report_end(job: dict) -> int:
    if job["status"] == "completed":
        err.print(f"[green]✓ built[/green] {job['websiteName']}")
        out.print(job["previewUrl"])
        return 0
    if job["status"] == "cancelled":
        err.print(f"[yellow]✗ build {job['id']} was cancelled[/yellow]")
        return 1
    err.print(f"[red]✗ build {job['id']} failed[/red]")
    err.print(job.get("error") or "no error message was recorded", markup=False)
    return 1


def jobs_table(title: str, jobs: list[dict]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("Job", "Website", "Status", "Progress", "Preview / error"):
        table.add_column(column)
    for job in jobs:
        first_error_line = next(iter((job.get("error") or "").splitlines()), "")
        table.add_row(str(job["id"]), job["websiteName"], describe(job), f"{job['progress']}%", job.get("previewUrl") or first_error_line)
    return table


def cmd_status(client: ApiClient, args: argparse.Namespace) -> int:
    data = client.job(args.job) if args.job else client.queue()
    if args.json:
        print(json.dumps(data, indent=2))
    elif args.job:
        out.print(f"job {data['id']} · {data['websiteName']} · {describe(data)} · {data['progress']}%")
        if data.get("previewUrl"):
            out.print(data["previewUrl"])
        if data.get("error"):
            out.print(data["error"], markup=False)
    else:
        out.print(jobs_table(f"Active builds ({data['totalActive']})", data["activeJobs"]))
        out.print(jobs_table("Recent builds", data["completedJobs"]))
    return 0


def cmd_job_action(client: ApiClient, args: argparse.Namespace) -> int:
    if args.command == "logs":
        sys.stdout.write(client.logs(args.job))
    elif args.command == "cancel":
        result = client.cancel(args.job)
        err.print("cancelled" if result["status"] == "cancelled" else "cancel requested; the build stops shortly")
    else:
        result = client.retry(args.job)
        err.print(f"retry queued as job {result['jobId']}")
        out.print(result["jobId"])
    return 0


def cmd_admin(args: argparse.Namespace) -> int:
    from webbuilder_cli import admin  # imports the engine and the database driver
    from workers.errors import UserError

    try:
        if args.admin_command in ("create-user", "reset-password"):
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
        if args.admin_command == "create-user":
            user_id = admin.create_user(args.username, password, is_admin=args.admin)
            err.print(f"created user {args.username} (id {user_id})")
        elif args.admin_command == "reset-password":
            ended = admin.reset_password(args.username, password)
            err.print(f"password of {args.username} changed; {ended} sign-in session(s) ended")
        else:
            out.print(admin.create_token(args.username, args.name))
    except UserError as exc:
        err.print(f"error: {exc}", markup=False)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "admin":
            return cmd_admin(args)
        client = client_from(args)
        try:
            handlers = {"submit": cmd_submit, "deploy": cmd_deploy, "sites": cmd_sites, "rollback": cmd_rollback, "status": cmd_status}
            handler = handlers.get(args.command, cmd_job_action)
            return handler(client, args)
        finally:
            client.close()
    except UsageError as exc:
        err.print(f"error: {exc}", markup=False)
        return 2
    except ApiError as exc:
        err.print(f"error: {exc}", markup=False)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted; the build goes on on the server")
        return 130
