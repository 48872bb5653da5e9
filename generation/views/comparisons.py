"""Blind comparisons on the Models page (``comparisons.py``): staff start and close them;
everyone signed in sees the results and the ranking (model names and figures, no text);
members who opted in judge pairs of their own projects' drafts on the judging page.

Refusals: 403 for a non-staff action, 404 for an unknown comparison; a judgement that
cannot count (closed comparison, someone else's project, judged already, garbage) gets
its reason on the judging page, and the next pair.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .. import comparisons
from ..models import Comparison, ComparisonStatus

STAFF_ONLY = "Only installation staff can start or close a blind comparison."
SHOWN = 10


def comparisons_context(user) -> dict:
    rows = list(
        Comparison.objects.select_related("gate_version").order_by("-created_at", "-pk")[:SHOWN]
    )
    live = any(c.status in (ComparisonStatus.PREPARING, ComparisonStatus.OPEN) for c in rows)
    judge = comparisons.is_judge(user)
    return {
        "comparison_results": comparisons.comparison_results(rows),
        "comparisons_live": live,
        "ranking": comparisons.ranking(),
        "contestants": comparisons.contestants() if user.is_staff else [],
        "is_judge": judge,
        "pairs_waiting": comparisons.pending_count(user) if judge else 0,
        "can_compare": bool(user.is_staff),
        "gate_blind": comparisons.gate_enabled(),
    }


@login_required
def comparisons_panel(request):
    """The comparisons card alone (the Models page polls it while one is open)."""
    return render(
        request, "generation/partials/comparisons.html", comparisons_context(request.user)
    )


def _staff(request) -> None:
    if not request.user.is_staff:
        raise PermissionDenied(STAFF_ONLY)


@login_required
@require_POST
def comparison_start(request):
    _staff(request)
    try:
        c = comparisons.comparison_start(
            user=request.user,
            a=request.POST.get("a", ""),
            b=request.POST.get("b", ""),
            pairs=request.POST.get("pairs"),
            votes=request.POST.get("votes"),
        )
    except comparisons.ComparisonError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Blind comparison started: {c.a_name} and {c.b_name} are writing drafts for "
            f"{c.pairs.count()} scenes; judging opens when they are done.",
        )
    return redirect("/models/#comparisons")


@login_required
@require_POST
def comparison_close(request, pk):
    _staff(request)
    c = get_object_or_404(Comparison, pk=pk)
    comparisons.comparison_close(comparison=c, user=request.user)
    messages.success(request, f"Closed: {c}. Its judgements stay in the ranking.")
    return redirect("/models/#comparisons")


@login_required
def judge(request):
    """The judging page: join or leave, then one pair at a time."""
    user = request.user
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "join":
            comparisons.judge_join(user)
        elif action == "leave":
            comparisons.judge_leave(user)
            messages.success(request, "You left the blind judging; your judgements so far count.")
        elif action == "vote":
            try:
                comparisons.vote(
                    user=user, pair_id=request.POST.get("pair"), choice=request.POST.get("choice")
                )
            except comparisons.ComparisonError as exc:
                messages.error(request, exc.message)
        else:
            messages.error(request, "Unknown action.")
        return redirect("judge")
    joined = comparisons.is_judge(user)
    shown = comparisons.next_pair(user) if joined else None
    return render(request, "generation/judge.html", {"joined": joined, "shown": shown})
