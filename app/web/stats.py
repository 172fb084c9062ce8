"""Statistics (/stats) for auditors and seal administrators: seal uses over a period as charts and tables, the
approval steps' lead times, CSV and XLSX exports, and a seal's usage ledger (用印登记台账) as a printable PDF."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from app.errors import InvalidInput, MalformedRequest
from app.models.timestamps import utcnow
from app.services import ledger, seals, statistics
from app.services.statistics import Period, UsageReport
from app.web import charts
from app.web.guards import database_int, me
from app.web.labels import DOCUMENT_TYPE_LABELS, acting, utc
from app.web.security import attachment
from app.web.stats_tables import department_label, document_type_label, process_name, stats_tables, to_csv, to_xlsx

if TYPE_CHECKING:
    from app.pdf import LedgerSpec

bp = Blueprint("stats", __name__)
F = TypeVar("F", bound=Callable[..., Any])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The ledger's columns and each one's share of the page's width.
LEDGER_WIDTHS = (0.1, 0.05, 0.13, 0.22, 0.08, 0.05, 0.22, 0.15)


def viewers_only(view: F) -> F:
    """Login required, and the statistics' readers only (statistics.may_view); others get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        statistics.check_viewer(me())
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _period() -> Period:
    """The period the query string names (from, to), or MalformedRequest (400) saying what is wrong."""
    try:
        return statistics.period_of(request.args.get("from"), request.args.get("to"))
    except InvalidInput as exc:
        raise MalformedRequest(_("The period cannot be read: %(problem)s", problem=exc.message)) from exc


def _charts(report: UsageReport) -> dict[str, charts.Chart]:
    return {
        "seals": charts.bar_chart([(c.name, c.count) for c in report.by_seal]),
        "departments": charts.bar_chart([(department_label(c), c.count) for c in report.by_department]),
        "months": charts.column_chart([(m.label, m.count) for m in report.by_month]),
        "document_types": charts.bar_chart([(document_type_label(c), c.count) for c in report.by_document_type]),
        "processes": charts.bar_chart([(process_name(c), c.count) for c in report.by_process]),
    }


@bp.get("/stats")
@viewers_only
def index() -> Any:
    try:
        period = statistics.period_of(request.args.get("from"), request.args.get("to"))
    except InvalidInput as exc:
        return render_template("stats/index.html", problem=exc.message, seals=seals.list_seals()), 400
    report = statistics.usage_report(period, me())
    return render_template("stats/index.html", period=period, report=report, charts=_charts(report),
                           steps=statistics.lead_times(period, me()), seals=seals.list_seals())


def _tables(period: Period) -> list[Any]:
    """The page's tables for the period, or the one `?table=` names (MalformedRequest for an unknown one)."""
    tables = stats_tables(statistics.usage_report(period, me()), statistics.lead_times(period, me()))
    wanted = request.args.get("table")
    if wanted:
        tables = [t for t in tables if t.key == wanted]
        if not tables:
            raise MalformedRequest(_("There is no table %(name)s.", name=wanted[:40]))
    return tables


def _filename(period: Period, suffix: str) -> str:
    return f"seal-usage-{period.start:%Y%m%d}-{period.end:%Y%m%d}{suffix}"


@bp.get("/stats/export.csv")
@viewers_only
def export_csv() -> Any:
    period = _period()
    # A byte-order mark: Excel reads the file as UTF-8 only with it (Chinese names otherwise garble).
    return Response("\ufeff" + to_csv(_tables(period)), mimetype="text/csv",
                    headers={"Content-Disposition": attachment(_filename(period, ".csv"), ".csv")})


@bp.get("/stats/export.xlsx")
@viewers_only
def export_xlsx() -> Any:
    period = _period()
    return Response(to_xlsx(_tables(period)), mimetype=XLSX,
                    headers={"Content-Disposition": attachment(_filename(period, ".xlsx"), ".xlsx")})


def ledger_spec(found: ledger.Ledger) -> LedgerSpec:
    """The ledger's texts in the reader's language."""
    from app.pdf import LedgerSpec

    period = f"{found.period.start:%Y-%m-%d} – {found.period.end:%Y-%m-%d}"
    rows = tuple((
        f"{e.sealed_at:%Y-%m-%d %H:%M}", str(e.application_id),
        f"{e.requester} ({e.department})" if e.department else e.requester, e.document,
        str(DOCUMENT_TYPE_LABELS.get(e.document_type, e.document_type)), str(e.copies),
        ", ".join(acting(a.name, a.on_behalf_of) for a in e.approvers) or "—", ", ".join(e.custodians) or "—",
    ) for e in found.entries)
    return LedgerSpec(
        _("Seal usage ledger · %(seal)s", seal=found.seal_name),
        (_("Period: %(period)s (UTC)", period=period),
         _("Custodians now: %(names)s", names=", ".join(found.custodians) or "—"),
         _("Uses: %(count)s", count=len(found.entries))),
        (_("Sealed (UTC)"), _("Application"), _("Requester"), _("Document"), _("Document type"), _("Copies"),
         _("Approved by"), _("Custodians then")),
        LEDGER_WIDTHS, rows, _("The seal was not used in this period."),
        _("Printed %(when)s by %(who)s · SealFlow", when=utc(utcnow()), who=me().display_name),
        _("Page %(page)s of %(pages)s", page="{page}", pages="{pages}"))


@bp.get("/stats/ledger.pdf")
@viewers_only
def ledger_pdf() -> Any:
    seal_id = request.args.get("seal", type=database_int)
    if seal_id is None:
        raise MalformedRequest(_("Choose a seal for the ledger."))
    period = _period()
    found = ledger.usage_ledger(seal_id, period, me())
    return Response(ledger.print_ledger(ledger_spec(found)), mimetype="application/pdf",
                    headers={"Content-Disposition": attachment(f"ledger-{found.seal_id}-{_filename(period, '.pdf')}")})
