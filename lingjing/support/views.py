"""Customer-service pages under ``/support/``.

For people: my tickets, a new ticket (visitors too: they leave a phone or email and confirm it with a code before
the ticket is accepted), the ticket's conversation (live: htmx polls the thread every 5 s and the server answers
204 while nothing changed), screenshots. For agents (``/support/agent/``): the queue, claiming, the workspace
with replies, internal notes, canned replies, the resolution record and the hand-over of privacy requests.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from lingjing.core import ratelimit
from lingjing.core.ratelimit import Limit, client_ip
from lingjing.core.workdays import working_days_between
from lingjing.notify.models import CodePurpose
from lingjing.support.access import (
    PENDING_SESSION_KEY,
    TicketAccess,
    access_attachment,
    access_pending_ticket,
    access_queue_ticket,
    access_ticket,
    access_ticket_by_link,
    can_assign_others,
    canned_replies,
    is_agent,
    my_tickets,
    queue,
    remember_ticket,
)
from lingjing.support.actions import (
    do_accept_ticket,
    do_assign_ticket,
    do_log_ticket_view,
    do_open_ticket,
    do_post_message,
    do_resolve_ticket,
)
from lingjing.support.convert import convert_ticket_to_rights_request
from lingjing.support.forms import (
    AgentReplyForm,
    AssignForm,
    CodeForm,
    ConvertForm,
    NewTicketForm,
    ReplyForm,
    ResolveForm,
)
from lingjing.support.models import ContactKind, Ticket, TicketMessage, TicketStatus
from lingjing.support.uploads import ScreenshotRejected, discard, prepare

QUEUE_PAGE = 50
VISITOR_LIMIT = Limit("support:ticket:ip:hour", 5, 3600, sliding=True)
USER_LIMIT = Limit("support:ticket:user:day", 20, 86400)
MESSAGE_LIMIT = Limit("support:message:subject:hour", 30, 3600, sliding=True)


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def _messages_of(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for errors in exc.message_dict.values() for m in errors)
    return "；".join(exc.messages)


def _refusal(limit: Limit, key: str, message: str) -> str:
    """Empty when one more event of ``limit`` is allowed for ``key``; else what to tell the person (fails closed)."""
    try:
        return "" if ratelimit.hit(limit, key).allowed else message
    except ratelimit.LimiterUnavailable:
        return _("服务暂时不可用，请稍后再试")


def version(ticket: Ticket) -> str:
    """Changes with every message, status change or assignment: the live thread answers 204 while it stays."""
    return f"{ticket.updated_at.timestamp():.6f}-{ticket.status}-{ticket.assigned_to_id or ''}"


def _thread(ticket: Ticket, *, as_agent: bool) -> list[dict[str, Any]]:
    rows = TicketMessage.objects.filter(ticket=ticket).select_related("author").prefetch_related("attachments")
    if not as_agent:
        rows = rows.filter(internal=False)
    return [
        {"id": m.pk, "role": m.author_role, "internal": m.internal, "body": m.body or "", "at": m.created_at,
         "author": (str(m.author) if m.author is not None else "") if as_agent else "",
         "attachments": [{"id": a.pk, "w": a.width, "h": a.height} for a in m.attachments.all()]}
        for m in rows
    ]


def _ticket_context(access: TicketAccess, lang: str) -> dict[str, Any]:
    ticket = access.ticket
    remaining = (working_days_between(timezone.localdate(), timezone.localtime(ticket.due_at).date())
                 if ticket.due_at and ticket.is_open else None)
    return {
        "ticket": ticket, "as_agent": access.as_agent, "thread": _thread(ticket, as_agent=access.as_agent),
        "version": version(ticket), "category": ticket.category_label(lang), "status": ticket.status_label(lang),
        "resolution": ticket.resolution_label(lang), "remaining": remaining,
        "overdue": bool(ticket.due_at and ticket.is_open and ticket.due_at < timezone.now()),
    }


def _send_contact_code(request: HttpRequest, ticket: Ticket) -> bool:
    """Send the visitor's code to the contact they left; the outcome goes into the page's messages."""
    contact = ticket.contact or ""
    try:
        if ticket.contact_kind == ContactKind.PHONE:
            from lingjing.accounts.codes import RateLimited, SmsUnavailable, request_code

            try:
                request_code(contact, "verify", ip=client_ip(request))
            except (RateLimited, SmsUnavailable) as exc:
                messages.error(request, exc.message)
                return False
        else:
            from lingjing.notify.codes import CodeRefused, send_email_code

            try:
                send_email_code(ticket.subject_ref, contact, CodePurpose.TICKET_CONTACT, ip=client_ip(request))
            except CodeRefused as exc:
                messages.error(request, exc.message)
                return False
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
        return False
    messages.success(request, _("验证码已发送，请在有效期内填写"))
    return True


def _check_contact_code(ticket: Ticket, code: str) -> bool:
    contact = ticket.contact or ""
    if ticket.contact_kind == ContactKind.PHONE:
        from lingjing.accounts.codes import check_code

        return check_code(contact, "verify", code).ok
    from lingjing.notify.codes import check_email_code

    return check_email_code(ticket.subject_ref, contact, CodePurpose.TICKET_CONTACT, code).ok


# --- people -------------------------------------------------------------------------------------------------


def my_list(request: HttpRequest) -> HttpResponse:
    lang = _lang(request)
    rows = [
        {"ticket": t, "category": t.category_label(lang), "status": t.status_label(lang)}
        for t in my_tickets(request.user, request.session)[:100]
    ]
    return render(request, "support/my_tickets.html", {"rows": rows, "agent": is_agent(request.user)})


@require_http_methods(["GET", "POST"])
def new_ticket(request: HttpRequest) -> HttpResponse:
    visitor = not request.user.is_authenticated
    lang = _lang(request)
    form = NewTicketForm(request.POST or None, request.FILES or None, visitor=visitor, lang=lang,
                         initial={"category": request.GET.get("category", "")})
    if request.method == "POST" and form.is_valid():
        key = ratelimit.ip_group(client_ip(request)) if visitor else str(request.user.pk)
        refused = _refusal(VISITOR_LIMIT if visitor else USER_LIMIT, key, _("提交过于频繁，请稍后再试"))
        if refused:
            form.add_error(None, refused)
        else:
            ticket = _open(request, form, visitor, lang)
            if ticket is not None:
                if visitor:
                    request.session[PENDING_SESSION_KEY] = str(ticket.pk)
                    _send_contact_code(request, ticket)
                    return redirect("support:confirm", ticket_id=ticket.pk)
                messages.success(request, _("工单已提交，客服会在 15 个工作日内答复"))
                return redirect("support:ticket", ticket_id=ticket.pk)
    return render(request, "support/new_ticket.html", {"form": form, "visitor": visitor})


def _open(request: HttpRequest, form: NewTicketForm, visitor: bool, lang: str) -> Ticket | None:
    data = form.cleaned_data
    try:
        stored = prepare(list(data.get("screenshots") or []))
    except ScreenshotRejected as exc:
        form.add_error("screenshots", str(exc))
        return None
    try:
        return do_open_ticket(
            user=None if visitor else request.user, category=data["category"], title=data["title"],
            body=data["body"], contact_kind=data.get("contact_kind") or "", contact=data.get("contact") or "",
            language="en" if lang == "en" else "zh-hans", screenshots=stored,
            acting_user=None if visitor else request.user,
        )
    except ValidationError as exc:
        discard([name for name, _ in stored])
        form.add_error(None, _messages_of(exc))
        return None
    except Exception:
        discard([name for name, _ in stored])
        raise


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, ticket_id: str) -> HttpResponse:
    ticket = access_pending_ticket(request.session, ticket_id)
    form = CodeForm()
    if request.method == "POST" and request.POST.get("action") == "resend":
        _send_contact_code(request, ticket)
        return redirect("support:confirm", ticket_id=ticket.pk)
    if request.method == "POST":
        form = CodeForm(request.POST)
        if form.is_valid():
            if _check_contact_code(ticket, form.cleaned_data["code"]):
                accepted = do_accept_ticket(ticket)
                remember_ticket(request.session, accepted.pk)
                request.session.pop(PENDING_SESSION_KEY, None)
                messages.success(request, _("联系方式已确认，工单已受理，客服会在 15 个工作日内答复"))
                return redirect("support:ticket", ticket_id=accepted.pk)
            form.add_error("code", _("验证码错误或已失效"))
    masked = _mask_contact(ticket)
    return render(request, "support/confirm.html", {"ticket": ticket, "form": form, "contact": masked})


def _mask_contact(ticket: Ticket) -> str:
    contact = ticket.contact or ""
    if ticket.contact_kind == ContactKind.PHONE:
        from lingjing.accounts.phone import mask_phone

        return mask_phone(contact)
    local, _, domain = contact.partition("@")
    return f"{local[:2]}***@{domain}" if domain else ""


def visitor_link(request: HttpRequest, token: str) -> HttpResponse:
    ticket = access_ticket_by_link(request.session, token)
    return redirect("support:ticket", ticket_id=ticket.pk)


@require_http_methods(["GET", "POST"])
def ticket_page(request: HttpRequest, ticket_id: str) -> HttpResponse:
    access = access_ticket(request.user, ticket_id, session=request.session, write=request.method == "POST")
    if access.as_agent:
        return redirect("support:agent-ticket", ticket_id=access.ticket.pk)
    form = ReplyForm()
    if request.method == "POST":
        form = ReplyForm(request.POST, request.FILES)
        if form.is_valid():
            refused = _refusal(MESSAGE_LIMIT, access.ticket.subject_ref, _("回复过于频繁，请稍后再试"))
            if refused:
                form.add_error(None, refused)
            elif _post(request, form, access, as_agent=False, internal=False):
                return redirect("support:ticket", ticket_id=access.ticket.pk)
    context = _ticket_context(access, _lang(request))
    return render(request, "support/ticket.html", {**context, "form": form})


def _post(request: HttpRequest, form: ReplyForm | AgentReplyForm, access: TicketAccess, *, as_agent: bool,
          internal: bool) -> bool:
    try:
        stored = prepare(list(form.cleaned_data.get("screenshots") or []))
    except ScreenshotRejected as exc:
        form.add_error("screenshots", str(exc))
        return False
    try:
        do_post_message(access.ticket, form.cleaned_data["body"], as_agent=as_agent, internal=internal,
                        screenshots=stored, acting_user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        discard([name for name, _ in stored])
        form.add_error(None, _messages_of(exc) if isinstance(exc, ValidationError) else str(exc))
        return False
    except Exception:
        discard([name for name, _ in stored])
        raise
    return True


def thread_partial(request: HttpRequest, ticket_id: str) -> HttpResponse:
    access = access_ticket(request.user, ticket_id, session=request.session, audit=False)
    if request.GET.get("v") == version(access.ticket):
        return HttpResponse(status=204)  # nothing new: nothing personal shown, htmx leaves the page alone
    if access.as_agent:
        do_log_ticket_view(access.ticket, acting_user=request.user, what="thread_update")
    return render(request, "support/_thread.html", _ticket_context(access, _lang(request)))


def attachment(request: HttpRequest, ticket_id: str, attachment_id: str) -> FileResponse:
    access = access_ticket(request.user, ticket_id, session=request.session, what="attachment")
    row = access_attachment(access, attachment_id)
    if not default_storage.exists(row.file):
        raise Http404("附件不存在")
    response = FileResponse(default_storage.open(row.file, "rb"), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = "inline"
    return response


# --- agents -------------------------------------------------------------------------------------------------

QUEUE_VIEWS = ("mine", "unassigned", "overdue", "all")


@login_required
def agent_queue(request: HttpRequest) -> HttpResponse:
    rows = queue(request.user)
    view = request.GET.get("view", "mine")
    view = view if view in QUEUE_VIEWS else "mine"
    open_states = [TicketStatus.OPEN, TicketStatus.ANSWERED]
    if view == "mine":
        rows = rows.filter(assigned_to_id=request.user.pk, status__in=open_states)
    elif view == "unassigned":
        rows = rows.filter(assigned_to__isnull=True, status__in=open_states)
    elif view == "overdue":
        rows = rows.filter(status__in=open_states, due_at__lt=timezone.now())
    category = request.GET.get("category", "")
    if category:
        rows = rows.filter(category=category)
    page = Paginator(rows, QUEUE_PAGE).get_page(request.GET.get("page"))
    lang = _lang(request)
    today = timezone.localdate()
    items = [
        {"ticket": t, "category": t.category_label(lang), "status": t.status_label(lang),
         "mine": t.assigned_to_id == request.user.pk,
         "remaining": working_days_between(today, timezone.localtime(t.due_at).date()) if t.due_at else None,
         "overdue": bool(t.due_at and t.is_open and t.due_at < timezone.now())}
        for t in page.object_list
    ]
    return render(request, "support/agent_queue.html", {"items": items, "page": page, "view": view,
                                                         "views": QUEUE_VIEWS, "category": category})


@login_required
@require_POST
def agent_claim(request: HttpRequest, ticket_id: str) -> HttpResponse:
    ticket = access_queue_ticket(request.user, ticket_id)
    try:
        do_assign_ticket(ticket, request.user, acting_user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _messages_of(exc) if isinstance(exc, ValidationError) else str(exc))
        return redirect("support:agent-queue")
    return redirect("support:agent-ticket", ticket_id=ticket.pk)


def _agents() -> list[Any]:
    return list(get_user_model().objects.filter(groups__name="support_agent", is_staff=True).order_by("nickname"))


@login_required
@require_http_methods(["GET", "POST"])
def agent_ticket(request: HttpRequest, ticket_id: str) -> HttpResponse:
    access = access_ticket(request.user, ticket_id, session=request.session, write=request.method == "POST")
    if not access.as_agent:
        return redirect("support:ticket", ticket_id=access.ticket.pk)
    ticket = access.ticket
    lang = "en" if ticket.language == "en" else "zh"
    canned = list(canned_replies(ticket.category))
    chosen = next((c for c in canned if str(c.pk) == request.GET.get("canned", "")), None)
    reply_form = AgentReplyForm(initial={"body": chosen.body(lang)} if chosen else None)
    resolve_form = ResolveForm(lang=_lang(request))
    convert_form = ConvertForm()
    assign_form = AssignForm(agents=_agents()) if can_assign_others(request.user) else None
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "reply":
            reply_form = AgentReplyForm(request.POST, request.FILES)
            if reply_form.is_valid() and _post(request, reply_form, access, as_agent=True,
                                               internal=bool(reply_form.cleaned_data.get("internal"))):
                return redirect("support:agent-ticket", ticket_id=ticket.pk)
        elif action == "resolve":
            resolve_form = ResolveForm(request.POST, lang=_lang(request))
            if resolve_form.is_valid():
                do_resolve_ticket(ticket, resolve_form.cleaned_data["resolution"], resolve_form.cleaned_data["note"],
                                  acting_user=request.user)
                messages.success(request, _("处理结果已记录，用户会收到通知"))
                return redirect("support:agent-ticket", ticket_id=ticket.pk)
        elif action == "convert":
            convert_form = ConvertForm(request.POST)
            if convert_form.is_valid():
                done = convert_ticket_to_rights_request(ticket, acting_user=request.user,
                                                        request_type=convert_form.cleaned_data["request_type"])
                messages.success(request, _("已转为权利请求") if done.conversion == "created"
                                 else _("已记录转为权利请求的意图；权利请求模块上线后将自动移交"))
                return redirect("support:agent-ticket", ticket_id=ticket.pk)
        elif action == "release":
            do_assign_ticket(ticket, None, acting_user=request.user)
            messages.success(request, _("已退回队列"))
            return redirect("support:agent-queue")
        elif action == "assign" and assign_form is not None:
            assign_form = AssignForm(request.POST, agents=_agents())
            if assign_form.is_valid():
                target = next(a for a in _agents() if str(a.pk) == assign_form.cleaned_data["assignee"])
                do_assign_ticket(ticket, target, acting_user=request.user)
                messages.success(request, _("已转交"))
                return redirect("support:agent-queue")
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    context = _ticket_context(access, _lang(request))
    return render(request, "support/agent_ticket.html", {
        **context, "reply_form": reply_form, "resolve_form": resolve_form, "convert_form": convert_form,
        "assign_form": assign_form, "canned": canned, "contact_label": ticket.get_contact_kind_display(),
        "requester": _requester_label(ticket),
    })


def _requester_label(ticket: Ticket) -> str:
    if ticket.is_visitor:
        return _("访客（未登录）")
    person = get_user_model().objects.filter(pk=ticket.user_id or "").only("nickname").first()
    return str(person) if person is not None else _("已注销用户")
