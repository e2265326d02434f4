"""Seed the consent purposes and their first notice texts.

Recipients and cross-border transfers are added later, one purpose each, through
``lingjing.consent.actions.do_add_purpose`` (kind ``recipient`` / ``cross_border``).
"""

from django.db import migrations

PURPOSES = [
    {
        "key": "search_history",
        "kind": "feature",
        "registry_purpose": "search",
        "cookie_category": "",
        "honours_signals": False,
        "position": 10,
        "title_zh": "保存搜索历史",
        "title_en": "Keep my search history",
        "text_zh": "同意后，我们会保存您输入的搜索关键词和搜索日志，用于展示您的搜索历史和改进搜索结果。"
                   "搜索关键词属于敏感信息。拒绝或撤回只会使搜索历史功能不可用，搜索本身和其他功能照常可用；"
                   "撤回后我们立即停止记录，并删除已保存的搜索历史。",
        "text_en": "With your consent we keep the search keywords you type and a search log, to show your search "
                   "history and improve results. Search keywords are sensitive information. Refusing or "
                   "withdrawing only switches off search history; search itself and every other feature keep "
                   "working. After withdrawal we stop recording at once and delete the saved history.",
    },
    {
        "key": "personalised_recommendation",
        "kind": "feature",
        "registry_purpose": "recommend",
        "cookie_category": "",
        "honours_signals": True,
        "position": 20,
        "title_zh": "个性化推荐",
        "title_en": "Personalised recommendations",
        "text_zh": "同意后，我们会根据您的浏览、创作和互动记录形成兴趣标签，为您推荐作品。不同意时，您看到的是不针对"
                   "个人特征的推荐内容。浏览器发出“请勿追踪”或“全球隐私控制”信号时，该次访问不进行个性化推荐。",
        "text_en": "With your consent we derive interest tags from what you view, create and interact with, and "
                   "recommend works with them. Without it you see recommendations that do not use your personal "
                   "characteristics. When your browser sends Do Not Track or Global Privacy Control, that visit "
                   "is not personalised.",
    },
    {
        "key": "analytics",
        "kind": "cookie",
        "registry_purpose": "analytics",
        "cookie_category": "analytics",
        "honours_signals": True,
        "position": 30,
        "title_zh": "统计分析",
        "title_en": "Analytics",
        "text_zh": "同意后，我们以假名方式记录使用频率、故障、性能数据和访问来源（仅来源网站的域名或推广参数）。"
                   "假名的密钥每日更换，统计数据与您的账号和身份信息相互隔离、不作结合，原始记录按期删除，"
                   "报表只显示不少于 5 人的汇总结果。浏览器发出“请勿追踪”或“全球隐私控制”信号时不作任何统计。",
        "text_en": "With your consent we record, under a pseudonym, how often the site is used, errors, performance "
                   "and acquisition source (only the referring domain or campaign parameter). The pseudonym's key "
                   "changes daily; the statistics are kept apart from, and never combined with, your account or "
                   "identity; raw records expire; reports only show groups of at least 5 people. Nothing is "
                   "recorded when your browser sends Do Not Track or Global Privacy Control.",
    },
    {
        "key": "marketing",
        "kind": "marketing",
        "registry_purpose": "",
        "cookie_category": "",
        "honours_signals": False,
        "position": 40,
        "title_zh": "营销信息",
        "title_en": "Marketing messages",
        "text_zh": "同意后，我们可能通过电子邮件向您发送活动和新功能介绍。每封邮件都带有一键退订链接，无需登录即可退订。"
                   "服务公告（如系统维护、政策变更）不属于营销信息。",
        "text_en": "With your consent we may email you about events and new features. Every such email has a "
                   "one-click unsubscribe link that works without signing in. Service announcements (maintenance, "
                   "policy changes) are not marketing.",
    },
    {
        "key": "email_tracking",
        "kind": "marketing",
        "registry_purpose": "analytics",
        "cookie_category": "",
        "honours_signals": True,
        "position": 50,
        "title_zh": "邮件打开与点击统计",
        "title_en": "Email open and click tracking",
        "text_zh": "同意后，我们发给您的邮件会包含像素标签和点击跟踪链接，用于了解邮件是否被打开以及哪些链接被点击。"
                   "不同意时邮件中不含任何跟踪；浏览器发出“请勿追踪”信号时也不记录。",
        "text_en": "With your consent the emails we send you carry a pixel tag and tracked links, so we learn "
                   "whether an email was opened and which links were clicked. Without it our emails contain no "
                   "tracking; nothing is recorded under Do Not Track either.",
    },
    {
        "key": "public_disclosure",
        "kind": "disclosure",
        "registry_purpose": "",
        "cookie_category": "",
        "honours_signals": False,
        "position": 60,
        "title_zh": "公开披露",
        "title_en": "Public disclosure",
        "text_zh": "除法律要求外，我们只在您明确同意后公开披露您的个人信息（例如在活动获奖名单中展示您的昵称和作品）。",
        "text_en": "Apart from what the law requires, we disclose your personal information publicly only with your "
                   "explicit consent (for example showing your nickname and work in a list of contest winners).",
    },
]


def seed(apps, schema_editor):
    Purpose = apps.get_model("consent", "Purpose")
    PurposeNotice = apps.get_model("consent", "PurposeNotice")
    for item in PURPOSES:
        texts = {k: item[k] for k in ("title_zh", "title_en", "text_zh", "text_en")}
        fields = {k: v for k, v in item.items() if k not in texts and k != "key"}
        purpose, _ = Purpose.objects.get_or_create(key=item["key"], defaults=fields)
        PurposeNotice.objects.get_or_create(purpose=purpose, version=1, defaults=texts)


def unseed(apps, schema_editor):
    Purpose = apps.get_model("consent", "Purpose")
    Purpose.objects.filter(key__in=[p["key"] for p in PURPOSES], states__isnull=True, records__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
