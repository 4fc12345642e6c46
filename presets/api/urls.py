from django.urls import path

import mvcontrol.converters  # noqa: F401 - registers <id:…>
from presets.api.views import (
    ApplyJobView,
    PresetApplyView,
    PresetCheckView,
    PresetExportView,
    PresetImportView,
    PresetPreviewView,
    PresetsView,
    PresetView,
)

urlpatterns = [
    path("presets", PresetsView.as_view(), name="presets"),
    path("presets/import", PresetImportView.as_view(), name="presets-import"),
    path("presets/check", PresetCheckView.as_view(), name="presets-check"),
    path("presets/jobs/<id:job_id>", ApplyJobView.as_view(), name="preset-job"),
    path("presets/<id:preset_id>", PresetView.as_view(), name="preset"),
    path("presets/<id:preset_id>/apply", PresetApplyView.as_view(), name="preset-apply"),
    path("presets/<id:preset_id>/preview", PresetPreviewView.as_view(), name="preset-preview"),
    path("presets/<id:preset_id>/export", PresetExportView.as_view(), name="preset-export"),
]
