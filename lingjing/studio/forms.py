"""Forms of the studio pages (input parsing only; writes go through ``studio.actions``)."""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from lingjing.studio.importers import ACCEPTED_EXTENSIONS, MAX_UPLOAD_BYTES, ImportRejected, check_text, extract_text
from lingjing.studio.models import CameraMove, JobKind, ShotType, StudioSettings
from lingjing.works.models import TITLE_MAX


class CreateWorkForm(forms.Form):
    title = forms.CharField(label=_("作品标题"), max_length=TITLE_MAX)
    text = forms.CharField(label=_("粘贴故事文本"), widget=forms.Textarea(attrs={"rows": 12}), required=False)
    file = forms.FileField(label=_("或上传文件（txt、md、docx、epub，最大 5 MiB）"), required=False,
                           widget=forms.ClearableFileInput(attrs={"accept": ",".join(ACCEPTED_EXTENSIONS)}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        try:
            if upload is not None:
                if upload.size > MAX_UPLOAD_BYTES:
                    raise ImportRejected("too_large", f"文件过大：最大 {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
                data["story"] = extract_text(upload.name, upload.read(MAX_UPLOAD_BYTES + 1))
            elif (data.get("text") or "").strip():
                data["story"] = check_text(data["text"])
            else:
                raise ValidationError(_("请粘贴故事文本或上传文件"))
        except ImportRejected as exc:
            raise ValidationError(exc.message, code=exc.code) from None
        return data


class SettingsForm(forms.Form):
    storyboard_provider = forms.ChoiceField(label=_("分镜方式"), choices=StudioSettings.STORYBOARD_PROVIDERS)
    image_provider = forms.ChoiceField(label=_("画面生成"), choices=StudioSettings.IMAGE_PROVIDERS)
    speech_provider = forms.ChoiceField(label=_("配音"), choices=StudioSettings.SPEECH_PROVIDERS)
    layout = forms.ChoiceField(label=_("漫画版式"), choices=StudioSettings.LAYOUTS)
    preset = forms.ChoiceField(label=_("视频画幅"), choices=StudioSettings.PRESETS)


class ShotForm(forms.Form):
    description = forms.CharField(label=_("画面描述"), widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)
    lines = forms.CharField(label=_("台词与旁白（每行一句，“名字：台词”为对白）"), required=False,
                            widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    prompt = forms.CharField(label=_("画面提示词"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             max_length=4000)
    shot_type = forms.ChoiceField(label=_("景别"), choices=ShotType.choices)
    camera_move = forms.ChoiceField(label=_("运镜"), choices=CameraMove.choices)
    duration = forms.FloatField(label=_("时长（秒）"), min_value=0.5, max_value=60, required=False)


class MoveForm(forms.Form):
    position = forms.IntegerField(min_value=1, required=False)
    direction = forms.ChoiceField(choices=[("up", "up"), ("down", "down")], required=False)


class CharacterForm(forms.Form):
    name = forms.CharField(label=_("角色名"), max_length=40)
    static_features = forms.CharField(label=_("固定特征（相貌、体型、发型）"), required=False, max_length=4000,
                                      widget=forms.Textarea(attrs={"rows": 2}))
    dynamic_features = forms.CharField(label=_("本集服装"), required=False, max_length=4000,
                                       widget=forms.Textarea(attrs={"rows": 2}))
    voice = forms.CharField(label=_("声音（espeak-ng，如 cmn 或 cmn+f3）"), max_length=60, initial="cmn")
    seed = forms.IntegerField(label=_("固定种子"), min_value=0, max_value=2**31 - 1, required=False)


class ReferenceImageForm(forms.Form):
    image = forms.ImageField(label=_("参考图（PNG/JPEG，最大 5 MiB）"))

    MAX_SIDE = 4096

    def clean_image(self) -> bytes:
        """Re-encode with Pillow (drops metadata such as GPS tags) and return PNG bytes."""
        from PIL import Image

        upload = self.cleaned_data["image"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(_("图片过大：最大 5 MiB"))
        upload.seek(0)
        try:
            with Image.open(upload) as source:
                if max(source.size) > self.MAX_SIDE:
                    raise ValidationError(_("图片尺寸过大：长边最多 4096 像素"))
                image = source.convert("RGB")
        except (OSError, Image.DecompressionBombError):
            raise ValidationError(_("无法读取图片")) from None
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()


class StartJobForm(forms.Form):
    kind = forms.ChoiceField(choices=JobKind.choices)
