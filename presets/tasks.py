"""django-q2 task: a preset apply too large for one request.

    presets.tasks.run_apply_job(job_id)    queued by POST /api/presets/{id}/apply
"""

from __future__ import annotations

from presets.services import PresetService


def run_apply_job(job_id: int) -> str:
    """Execute a queued apply job; returns its final status ("not run" when it was no longer
    queued, e.g. run already by another worker)."""
    return PresetService.run_job(job_id)
