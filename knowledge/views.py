"""The knowledge editor (knowledge admins), the public help pages and the staff search API."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from knowledge.forms import DocumentForm, SearchForm
from knowledge.markdown import render as render_markdown
from knowledge.models import Document
from knowledge.selectors import (
    article_get,
    chunks_search,
    document_liveness,
    documents_awaiting_approval,
    documents_flagged,
    documents_list,
    flagged_chunks_of,
    revisions_diff,
    revisions_of,
)
from knowledge.services import (
    chunk_approval_withdraw,
    chunk_approve,
    document_delete,
    document_restore,
    document_save,
)
from travelbot.access import knowledge_admin_page, signed_in, staff_api
from travelbot.selectors import stream_statuses
from travelbot.timefmt import iso_z


@knowledge_admin_page
@require_safe
def document_list(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")[:200]
    context = {
        "documents": documents_list(text=text),
        "q": text,
        "flagged": documents_flagged(),
        "awaiting": documents_awaiting_approval(),
    }
    return render(request, "knowledge/list.html", context)


@knowledge_admin_page
@require_http_methods(["GET", "HEAD", "POST"])
def document_edit(request: HttpRequest, doc_id: str | None = None) -> HttpResponse:
    document = None if doc_id is None else Document.objects.filter(pk=doc_id, deleted=False).first()
    if doc_id is not None and document is None:
        raise Http404("no such document")
    form = DocumentForm(request.POST or None, initial=_initial(document))
    if document is not None:
        form.fields["doc_id"].disabled = True
    if request.method == "POST" and form.is_valid():
        taken = (
            document is None and Document.objects.filter(pk=form.cleaned_data["doc_id"]).exists()
        )
        if taken:
            form.add_error("doc_id", "A document has that id already.")
        else:
            revision = document_save(data=form.document(), by=signed_in(request))
            messages.success(request, f"Saved version {revision.version}.")
            return redirect("knowledge:edit", doc_id=revision.doc_id)
    context: dict[str, Any] = {"form": form, "document": document}
    if document is not None:
        context["flags"] = flagged_chunks_of(doc_id=document.doc_id)
        context["preview"] = render_markdown(document.body)
    return render(request, "knowledge/edit.html", context)


def _initial(document: Document | None) -> dict[str, Any]:
    if document is None:
        return {}
    return {
        "doc_id": document.doc_id,
        "title": document.title,
        "body": document.body,
        "tags": ", ".join(document.tags),
        "effective_from": document.effective_from,
        "effective_to": document.effective_to,
    }


@knowledge_admin_page
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    body = request.POST.get("body", "")[:200_000]
    return HttpResponse(render_markdown(body))


@knowledge_admin_page
@require_POST
def approve(request: HttpRequest, doc_id: str) -> HttpResponse:
    chunk_id, content_hash = request.POST.get("chunk_id", ""), request.POST.get("content_hash", "")
    if chunk_approve(chunk_id=chunk_id, content_hash=content_hash, by=signed_in(request)):
        messages.success(request, "Approved: the assistant may now use that passage.")
    else:
        messages.error(request, "That passage changed since you read it: read it again.")
    return redirect("knowledge:edit", doc_id=doc_id)


@knowledge_admin_page
@require_POST
def withdraw_approval(request: HttpRequest, doc_id: str) -> HttpResponse:
    if chunk_approval_withdraw(doc_id=doc_id, content_hash=request.POST.get("content_hash", "")):
        messages.success(request, "Approval withdrawn: the assistant no longer uses that passage.")
    return redirect("knowledge:edit", doc_id=doc_id)


@knowledge_admin_page
@require_safe
def liveness(request: HttpRequest, doc_id: str) -> HttpResponse:
    status = next(
        (s for s in stream_statuses(details=False) if s.name == "knowledge.documents"), None
    )
    return render(
        request,
        "knowledge/_liveness.html",
        {"live": document_liveness(doc_id=doc_id), "stream": status},
    )


@knowledge_admin_page
@require_safe
def history(request: HttpRequest, doc_id: str) -> HttpResponse:
    revisions = list(revisions_of(doc_id=doc_id))
    if not revisions:
        raise Http404("no such document")
    diff = None
    old, new = request.GET.get("old", ""), request.GET.get("new", "")
    if old.isdigit() and new.isdigit():
        known = {r.version for r in revisions}
        if int(old) in known and int(new) in known:
            diff = revisions_diff(doc_id=doc_id, old=int(old), new=int(new))
    return render(
        request,
        "knowledge/history.html",
        {"doc_id": doc_id, "revisions": revisions, "diff": diff, "old": old, "new": new},
    )


@knowledge_admin_page
@require_POST
def restore(request: HttpRequest, doc_id: str, version: int) -> HttpResponse:
    if not revisions_of(doc_id=doc_id).filter(version=version).exists():
        raise Http404("no such version")
    revision = document_restore(doc_id=doc_id, version=version, by=signed_in(request))
    messages.success(request, f"Version {version} restored as version {revision.version}.")
    return redirect("knowledge:edit", doc_id=doc_id)


@knowledge_admin_page
@require_POST
def delete(request: HttpRequest, doc_id: str) -> HttpResponse:
    if document_delete(doc_id=doc_id, by=signed_in(request)) is None:
        raise Http404("no such document")
    messages.success(request, f"Deleted {doc_id}: the assistant stops citing it within seconds.")
    return redirect("knowledge:list")


@require_safe
def help_article(request: HttpRequest, doc_id: str) -> HttpResponse:
    article = article_get(doc_id=doc_id)
    if article is None or article.body is None:
        raise Http404("no such article")
    return render(
        request,
        "knowledge/article.html",
        {"article": article, "html": render_markdown(article.body)},
    )


@staff_api
@require_GET
def search_api(request: HttpRequest) -> JsonResponse:
    form = SearchForm(request.GET)
    if not form.is_valid():
        errors = {name: [str(m) for m in found] for name, found in form.errors.items()}
        return JsonResponse({"error": "invalid parameters", "fields": errors}, status=400)
    data = form.cleaned_data
    results = chunks_search(query=data["q"], k=data["k"] or 5, on_date=data["date"])
    return JsonResponse(
        {
            "results": [
                {
                    "doc_id": r.doc_id,
                    "title": r.title,
                    "version": r.version,
                    "chunk_id": r.chunk_id,
                    "heading": r.heading,
                    "anchor": r.anchor,
                    "text": r.text,
                    "score": r.score,
                    "url": r.url,
                    "as_of": iso_z(r.as_of),
                    "flagged": r.flagged,
                }
                for r in results
            ]
        }
    )
