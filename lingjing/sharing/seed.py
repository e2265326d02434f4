"""The recipients every deployment starts with: the SMS, email, storage and AI providers the code can talk to, and
the public (for public disclosure). Created after ``migrate`` when missing, never overwritten: once a row exists,
staff own it in the console (contract references, mechanisms, de-identification rules are theirs to fill in).

Which of them a deployment actually uses is configuration (``LINGJING_SMS_BACKEND``, the studio's provider
settings); :mod:`lingjing.sharing.channels` maps each channel to its recipient.
"""

from __future__ import annotations

from typing import Any

from lingjing.sharing.models import Recipient, RecipientKind, RecipientRole

_ALIYUN = {
    "legal_name": "阿里云计算有限公司",
    "legal_name_en": "Alibaba Cloud Computing Co., Ltd.",
    "contact": "客服热线 95187；浙江省杭州市",
    "country": "CN",
}
_ALIYUN_RIGHTS = "可通过阿里云客服热线 95187 行使权利，或联系我们代为转达。"

SEED: list[dict[str, Any]] = [
    {
        "slug": "aliyun-sms", **_ALIYUN,
        "role": RecipientRole.PROCESSOR, "legal_basis": "contract",
        "purposes": ["account", "security", "notify"], "categories": ["identity.phone"],
        "processing_zh": "受托发送短信验证码与服务通知，不得用于其他目的",
        "processing_en": "Sends verification codes and service notices on our behalf, nothing else",
    },
    {
        "slug": "tencent-sms",
        "legal_name": "腾讯云计算（北京）有限责任公司",
        "legal_name_en": "Tencent Cloud Computing (Beijing) Co., Ltd.",
        "contact": "客服热线 4009100100；北京市",
        "country": "CN",
        "role": RecipientRole.PROCESSOR, "legal_basis": "contract",
        "purposes": ["account", "security", "notify"], "categories": ["identity.phone"],
        "processing_zh": "受托发送短信验证码与服务通知，不得用于其他目的",
        "processing_en": "Sends verification codes and service notices on our behalf, nothing else",
    },
    {
        "slug": "aliyun-directmail", **_ALIYUN,
        "role": RecipientRole.PROCESSOR, "legal_basis": "contract",
        "purposes": ["notify", "support", "rights", "account"], "categories": ["identity.email"],
        "processing_zh": "受托发送服务邮件（公告、客服回复、权利请求结果）",
        "processing_en": "Sends service email (announcements, support replies, rights request results)",
    },
    {
        "slug": "aliyun-oss", **_ALIYUN,
        "role": RecipientRole.PROCESSOR, "legal_basis": "contract",
        "purposes": ["content", "profile", "rights"],
        "categories": ["content.work", "content.script", "content.asset", "profile.avatar"],
        "processing_zh": "受托存储作品、素材、头像和个人信息副本文件（境内机房）",
        "processing_en": "Stores works, assets, avatars and copy packages for us (data centres in China)",
    },
    {
        "slug": "deepseek",
        "legal_name": "杭州深度求索人工智能基础技术研究有限公司",
        "legal_name_en": "Hangzhou DeepSeek Artificial Intelligence Basic Technology Research Co., Ltd.",
        "contact": "privacy@deepseek.com；浙江省杭州市",
        "country": "CN",
        "role": RecipientRole.PROCESSOR, "legal_basis": "consent",
        "purposes": ["content"], "categories": ["content.script", "content.work"],
        "processing_zh": "根据您的剧本生成分镜（大语言模型接口），按约定不保留、不用于训练",
        "processing_en": "Turns your script into a storyboard (LLM API); by contract not kept nor used for training",
    },
    {
        "slug": "openai",
        "legal_name": "OpenAI OpCo, LLC",
        "legal_name_en": "OpenAI OpCo, LLC",
        "contact": "privacy@openai.com；1455 3rd Street, San Francisco, CA 94158, USA",
        "country": "US",
        "role": RecipientRole.PROCESSOR, "legal_basis": "consent",
        "purposes": ["content"],
        "categories": ["content.script", "content.work", "content.asset", "identity.account"],
        "deidentify": {"identity.account": "hash"},
        "processing_zh": "根据您的剧本生成分镜、画面与配音（境外接口）；账号标识仅以不可逆的假名发送",
        "processing_en": "Storyboards, images and voices from your script (abroad); your account id only as an "
                         "irreversible pseudonym",
        "rights_zh": "可发送邮件至 dsar@openai.com 向该接收方行使查阅、复制、更正、删除等权利；"
                     "也可联系我们，我们将在十五个工作日内代为转达并跟进。",
        "rights_en": "Write to dsar@openai.com to access, copy, correct or delete; or ask us and we will pass the "
                     "request on within 15 working days.",
    },
    {
        "slug": "public",
        "legal_name": "不特定公众（社区公开展示）",
        "legal_name_en": "The public (community pages)",
        "contact": "通过平台“帮助与联系我们”联系我们",
        "country": "CN",
        "kind": RecipientKind.PUBLIC,
        "role": RecipientRole.CONTROLLER, "legal_basis": "consent",
        "purposes": ["content", "profile"],
        "categories": ["profile.nickname", "profile.avatar", "content.work"],
        "processing_zh": "在社区页面公开展示，任何访问者均可查看",
        "processing_en": "Shown on community pages to any visitor",
    },
]


def seed_recipients(*, acting_user: Any = None) -> int:
    """Create the seeded recipients that do not exist yet. Answers how many were created."""
    from lingjing.sharing.actions import do_save_recipient

    existing = set(Recipient.objects.values_list("slug", flat=True))
    created = 0
    for spec in SEED:
        if spec["slug"] in existing:
            continue
        do_save_recipient(Recipient(**spec), acting_user=acting_user)
        created += 1
    return created


def seed_after_migrate(sender: Any, app_config: Any = None, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver: once, after the last app, when both this app's and the consent app's tables
    exist (a partial ``migrate`` may have left either out)."""
    from django.apps import apps as global_apps
    from django.db import connections

    with_models = [config for config in global_apps.get_app_configs() if config.models_module is not None]
    if app_config is None or not with_models or app_config.label != with_models[-1].label:
        return
    tables = set(connections[using].introspection.table_names())
    if not {"sharing_recipient", "consent_purpose", "security_auditentry"} <= tables:
        return
    seed_recipients()
