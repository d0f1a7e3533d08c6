"""Ops, for admins: every user's queue, running builds, workers alive, host gauges, charts over the
last hour or day, dependency-cache and build-cache hit rates, and pausing dispatch. Gauges are
samples, so this one page re-reads every few seconds while it is open (a browser-side timer; it
stops with the tab)."""

import reflex as rx

from webbuilder_app.components.layout import signed_in_page
from webbuilder_app.components.status import status_badge
from webbuilder_app.state.ops import OpsState

REFRESH_MS = 3000


def _stat(label: str, value: rx.Component, icon: str, footer: rx.Component | None = None, stat_id: str = "") -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon(icon, size=16, color="var(--gray-10)"), rx.text(label, size="2", color_scheme="gray"), align="center", spacing="2"),
            value,
            footer or rx.fragment(),
            spacing="2",
            width="100%",
        ),
        flex="1",
        min_width="13rem",
        id=stat_id,
    )


def _gauge(label: str, percent: rx.Var, icon: str, detail: rx.Component, gauge_id: str) -> rx.Component:
    colour = rx.cond(percent > 85, "red", rx.cond(percent > 60, "amber", "green"))
    return _stat(
        label,
        rx.heading(percent.to(str), "%", size="7"),
        icon,
        rx.vstack(rx.progress(value=percent.to(int), max=100, color_scheme=colour, width="100%", aria_label=label), detail, spacing="1", width="100%"),
        gauge_id,
    )


def _hit_rate(percent: rx.Var, heading_id: str) -> rx.Component:
    """A percentage, or a dash while the window has nothing to count."""
    return rx.heading(rx.cond(percent >= 0, percent.to(str) + "%", "—"), size="7", id=heading_id)


def overview() -> rx.Component:
    host = OpsState.host
    return rx.flex(
        _gauge("Host CPU", host["cpuPercent"].to(float), "cpu",
               rx.text(host["cpuCount"].to(str), " cores · load ", host["loadAverage"].to(str), size="1", color_scheme="gray"), "cpu-gauge"),
        _gauge("Host memory", host["memoryPercent"].to(float), "memory-stick",
               rx.text(host["memoryUsedGb"].to(str), " of ", host["memoryTotalGb"].to(str), " GB", size="1", color_scheme="gray"), "memory-gauge"),
        _stat("Workers alive", rx.heading(OpsState.workers.length(), size="7", id="workers-alive"), "server",
              rx.text(OpsState.running_jobs.length(), " building · ", OpsState.waiting_jobs.length(), " waiting", size="1", color_scheme="gray")),
        _stat("Dependency cache", _hit_rate(OpsState.cache_hit_percent, "cache-hit-rate"),
              "database", rx.text("hit rate over ", OpsState.cache_lookups, " installs this ", OpsState.window, size="1", color_scheme="gray")),
        _stat("Build cache", _hit_rate(OpsState.build_cache_hit_percent, "build-cache-hit-rate"), "copy-check",
              rx.text("hit rate over ", OpsState.builds_finished, " builds this ", OpsState.window, size="1", color_scheme="gray")),
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def dispatch_control() -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.icon(rx.cond(OpsState.paused, "circle-pause", "circle-play"), color=rx.cond(OpsState.paused, "var(--amber-10)", "var(--green-10)")),
            rx.vstack(
                rx.text(rx.cond(OpsState.paused, "Dispatching is paused", "Dispatching is running"), weight="bold", id="dispatch-state"),
                rx.text(rx.cond(OpsState.paused, "Running builds finish; queued builds wait until you resume.",
                                "Workers take queued builds as slots free up."), size="2", color_scheme="gray"),
                spacing="0",
            ),
            rx.spacer(),
            rx.button(rx.cond(OpsState.paused, "Resume dispatching", "Pause dispatching"), on_click=OpsState.toggle_paused,
                      color_scheme=rx.cond(OpsState.paused, "green", "amber"), variant="soft", high_contrast=True, id="toggle-dispatch"),
            align="center",
            width="100%",
            spacing="3",
        ),
        width="100%",
    )


def charts() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Activity", size="4"),
                rx.spacer(),
                rx.segmented_control.root(
                    rx.segmented_control.item("Last hour", value="hour"),
                    rx.segmented_control.item("Last day", value="day"),
                    value=OpsState.window,
                    on_change=OpsState.set_window,
                    id="window",
                ),
                width="100%",
                align="center",
            ),
            rx.flex(
                rx.box(
                    rx.text("Queue depth", size="2", weight="medium"),
                    rx.recharts.area_chart(
                        rx.recharts.area(data_key="queued", stroke="var(--accent-9)", fill="var(--accent-a5)", type_="stepAfter", name="waiting"),
                        rx.recharts.x_axis(data_key="time", font_size=11),
                        rx.recharts.y_axis(allow_decimals=False, width=30, font_size=11),
                        rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke="var(--gray-a5)"),
                        rx.recharts.graphing_tooltip(),
                        data=OpsState.buckets,
                        height=200,
                    ),
                    flex="1",
                    min_width="18rem",
                    id="queue-chart",
                ),
                rx.box(
                    rx.text("Builds finished and median duration (s)", size="2", weight="medium"),
                    rx.recharts.composed_chart(
                        rx.recharts.bar(data_key="completed", fill="var(--green-9)", stack_id="n", name="completed"),
                        rx.recharts.bar(data_key="failed", fill="var(--red-9)", stack_id="n", name="failed"),
                        rx.recharts.line(data_key="buildSeconds", stroke="var(--amber-10)", y_axis_id="seconds", name="median s", type_="linear", dot=False),
                        rx.recharts.x_axis(data_key="time", font_size=11),
                        rx.recharts.y_axis(allow_decimals=False, width=30, font_size=11),
                        rx.recharts.y_axis(y_axis_id="seconds", orientation="right", width=52, font_size=11),
                        rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke="var(--gray-a5)"),
                        rx.recharts.graphing_tooltip(),
                        data=OpsState.buckets,
                        height=200,
                    ),
                    flex="1",
                    min_width="18rem",
                    id="duration-chart",
                ),
                spacing="4",
                wrap="wrap",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _job_row(job: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(job["username"].to(str)),
        rx.table.cell(job["websiteName"].to(str)),
        rx.table.cell(status_badge(job["status"])),
        rx.table.cell(rx.cond(job["queuePosition"], job["queuePosition"].to(str), "—")),
        rx.table.cell(job["currentStep"].to(str)),
        rx.table.cell(rx.cond(job["workerId"] != "", rx.code(job["workerId"].to(str), size="1"), "—")),
        rx.table.cell(rx.moment(job["createdAt"].to(str), from_now=True)),
        class_name="ops-job",
    )


def jobs_table(title: str, rows: rx.Var, empty: str, table_id: str) -> rx.Component:
    return rx.vstack(
        rx.heading(title, size="4"),
        rx.cond(
            rows.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("User", "Website", "Status", "Position", "Step", "Worker", "Created")])),
                rx.table.body(rx.foreach(rows, _job_row)),
                width="100%",
                size="1",
                variant="surface",
                id=table_id,
            ),
            rx.text(empty, size="2", color_scheme="gray"),
        ),
        width="100%",
        spacing="2",
    )


def users_and_workers() -> rx.Component:
    return rx.flex(
        rx.card(
            rx.vstack(
                rx.heading("Queues by user", size="4"),
                rx.cond(
                    OpsState.users.length() > 0,
                    rx.table.root(
                        rx.table.header(rx.table.row(rx.table.column_header_cell("User"), rx.table.column_header_cell("Building"), rx.table.column_header_cell("Waiting"))),
                        rx.table.body(rx.foreach(OpsState.users, lambda u: rx.table.row(
                            rx.table.cell(u["username"].to(str)), rx.table.cell(u["building"].to(str)), rx.table.cell(u["queued"].to(str)), class_name="ops-user"))),
                        width="100%",
                        size="1",
                        id="user-queues",
                    ),
                    rx.text("No user has builds waiting.", size="2", color_scheme="gray"),
                ),
                width="100%",
            ),
            flex="1",
            min_width="18rem",
        ),
        rx.card(
            rx.vstack(
                rx.heading("Workers", size="4"),
                rx.cond(
                    OpsState.workers.length() > 0,
                    rx.vstack(rx.foreach(OpsState.workers, lambda w: rx.hstack(
                        rx.box(width="8px", height="8px", border_radius="50%", background="var(--green-9)"),
                        rx.code(w["name"].to(str), size="1"),
                        rx.spacer(),
                        rx.text("beat ", rx.moment(w["seenAt"].to(str), from_now=True), size="1", color_scheme="gray"),
                        align="center", width="100%", class_name="ops-worker")), width="100%", spacing="1"),
                    rx.callout("No worker has reported in the last 15 s.", icon="triangle-alert", color_scheme="red", size="1"),
                ),
                width="100%",
            ),
            flex="1",
            min_width="18rem",
        ),
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def ops_view() -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.heading("Ops", size="7"), rx.badge("admin", color_scheme="purple"), rx.spacer(),
                  rx.moment(interval=REFRESH_MS, on_change=OpsState.refresh, display="none"), align="center", width="100%"),
        dispatch_control(),
        overview(),
        charts(),
        users_and_workers(),
        jobs_table("Running builds", OpsState.running_jobs, "Nothing is building.", "running-builds"),
        jobs_table("Waiting builds", OpsState.waiting_jobs, "The queue is empty.", "waiting-builds"),
        spacing="5",
        width="100%",
    )


@signed_in_page("/ops", "Ops", on_load=[OpsState.load])
def ops_page() -> rx.Component:
    return rx.cond(
        OpsState.allowed,
        ops_view(),
        rx.cond(
            OpsState.checked,
            rx.callout("The ops page is for administrators.", icon="shield-alert", color_scheme="red", id="ops-forbidden"),
            rx.center(rx.spinner(size="3"), padding="4rem"),
        ),
    )
