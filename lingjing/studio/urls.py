from django.urls import path

from lingjing.studio import views

app_name = "studio"

urlpatterns = [
    path("", views.home, name="home"),
    path("files/<uuid:asset_id>", views.asset_file, name="asset_file"),
    path("<uuid:work_id>/", views.work_page, name="work"),
    path("<uuid:work_id>/settings", views.update_settings, name="settings"),
    path("<uuid:work_id>/delete", views.delete_work, name="delete"),
    path("<uuid:work_id>/storyboard/", views.storyboard, name="storyboard"),
    path("<uuid:work_id>/shots/<uuid:shot_id>/edit", views.edit_shot, name="edit_shot"),
    path("<uuid:work_id>/shots/<uuid:shot_id>/move", views.move_shot, name="move_shot"),
    path("<uuid:work_id>/shots/<uuid:shot_id>/split", views.split_shot, name="split_shot"),
    path("<uuid:work_id>/shots/<uuid:shot_id>/merge", views.merge_shot, name="merge_shot"),
    path("<uuid:work_id>/shots/<uuid:shot_id>/delete", views.delete_shot, name="delete_shot"),
    path("<uuid:work_id>/characters/", views.characters, name="characters"),
    path("<uuid:work_id>/characters/<uuid:character_id>/edit", views.edit_character, name="edit_character"),
    path("<uuid:work_id>/characters/<uuid:character_id>/reference", views.add_reference, name="add_reference"),
    path("<uuid:work_id>/characters/<uuid:character_id>/reference/<int:n>", views.reference_file,
         name="reference_file"),
    path("<uuid:work_id>/jobs/start", views.start_job, name="start_job"),
    path("<uuid:work_id>/jobs/<uuid:job_id>/", views.job_page, name="job"),
    path("<uuid:work_id>/jobs/<uuid:job_id>/progress", views.job_progress, name="job_progress"),
    path("<uuid:work_id>/jobs/<uuid:job_id>/cancel", views.cancel_job, name="cancel_job"),
    path("<uuid:work_id>/jobs/<uuid:job_id>/retry", views.retry_job, name="retry_job"),
    path("<uuid:work_id>/results/", views.results, name="results"),
    path("<uuid:work_id>/results/<uuid:asset_id>/choose", views.choose_output, name="choose_output"),
    path("<uuid:work_id>/results/undo", views.undo_choice, name="undo_choice"),
]
