"""Background work of rights requests. Tasks take request ids, claim their work with a conditional UPDATE
(``actions.claim_request_work``) and are safe to run twice."""

from __future__ import annotations

from typing import Any

from django.tasks import task


@task(queue_name="privacy")
def build_copy(request_id: str) -> str:
    """Build the copy package of one request (streamed zip in ``EXPORTS_DIR``) and start its 7-day link."""
    from lingjing.privacy.actions import claim_request_work, do_record_package
    from lingjing.privacy.requests.models import RequestType, RightsRequest
    from lingjing.privacy.requests.package import build_package, delete_package, package_name_for, publish

    req = RightsRequest.objects.select_related("user").filter(pk=request_id, type=RequestType.COPY).first()
    if req is None or req.user is None or req.package_name or not claim_request_work(request_id, kind="packing"):
        return "skipped"
    name = package_name_for(req.pk)
    from lingjing.privacy.requests.package import local_path

    try:
        info = build_package(req.user, local_path(name), request_ref=req.reference)
        publish(name)
    except BaseException:
        delete_package(name)
        raise
    summary: dict[str, Any] = {"records": info.records, "files": info.files, "categories": info.categories,
                               "per_category": info.per_category}
    if not do_record_package(req, name=name, size=info.size, sha256=info.sha256, summary=summary):
        delete_package(name)
        return "withdrawn"
    return "built"


@task(queue_name="privacy")
def push_transfer(request_id: str) -> str:
    """Send one transfer request's package to its recipient (handshake, gate, HTTPS push)."""
    from lingjing.privacy.actions import claim_request_work
    from lingjing.privacy.requests.transfer import run_transfer

    if not claim_request_work(request_id, kind="pushing"):
        return "skipped"
    return run_transfer(request_id)


@task(queue_name="privacy")
def erase_scope(request_id: str) -> str:
    """Carry out a granted deletion request: the chosen categories, then the recipients are told."""
    from lingjing.privacy.actions import claim_request_work, do_finish_scoped_deletion
    from lingjing.privacy.requests import propagation
    from lingjing.privacy.requests.models import RequestType, RightsRequest
    from lingjing.privacy.requests.scoped import erase_categories

    req = RightsRequest.objects.filter(pk=request_id, type=RequestType.DELETION).first()
    if req is None or req.user_id is None or not claim_request_work(request_id, kind="erasing"):
        return "skipped"
    categories = list(req.params.get("categories", []))
    report = erase_categories(req.user_id, categories, request_id=req.pk)
    recipients = propagation.plan(req.user_id, req.pk, categories=categories)
    propagation.deliver_due(request_id=req.pk)
    do_finish_scoped_deletion(req, report=report.as_dict(), propagations=recipients)
    return "deleted"


@task(queue_name="privacy")
def run_saga(request_id: str) -> str:
    """Run (or resume) one cancellation's erasure saga."""
    from lingjing.privacy.requests.saga import run_saga as run

    return run(request_id)


@task(queue_name="privacy")
def run_due() -> dict[str, Any]:
    """The periodic work (every few minutes, or ``lingjing privacy run-due`` from cron)."""
    from lingjing.privacy.requests.due import run_due as run

    return run()
